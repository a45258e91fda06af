// write_file_atomic: the whole file or nothing (no .tmp left on failure), a failed write to a full
// device is an error, a device is written in place (never renamed over), a folder is refused;
// remove_stale_tmp_files clears what a killed process left.
#include <filesystem>
#include <fstream>

#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

namespace fs = std::filesystem;
using test::error_of;

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(FileIo, WritesWholeFilesAndChecksEveryWrite) {
    std::string dir = ::testing::TempDir() + "pg_file_io/";
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_file_atomic(dir + "a.txt", "test", std::string("hello"));
    EXPECT_EQ(read_all(dir + "a.txt"), "hello");
    write_file_atomic(dir + "a.txt", "test", std::string("again"));
    EXPECT_EQ(read_all(dir + "a.txt"), "again");
    EXPECT_FALSE(fs::exists(dir + "a.txt.tmp"));
    // /dev/full accepts the open and fails the write: only a check after close sees it.
    std::string e =
        error_of([] { write_file_atomic("/dev/full", "eval --out", std::string(100, 'x')); });
    EXPECT_NE(e.find("eval --out: writing /dev/full failed"), std::string::npos) << e;
    EXPECT_TRUE(fs::is_character_file("/dev/full")); // written in place, not renamed over
    e = error_of([&] { write_file_atomic(dir, "test", std::string("x")); });
    EXPECT_NE(e.find("is a folder"), std::string::npos) << e;
    e = error_of([&] { write_file_atomic(dir + "no/such/dir/b.txt", "test", std::string("x")); });
    EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
    // A writer that throws leaves neither the file nor its .tmp.
    EXPECT_THROW(write_file_atomic(dir + "c.txt", "test",
                                   [](std::ostream&) { throw Error("writer failed"); }),
                 Error);
    EXPECT_FALSE(fs::exists(dir + "c.txt"));
    EXPECT_FALSE(fs::exists(dir + "c.txt.tmp"));
    std::ofstream(dir + "x.safetensors.tmp") << "half";
    std::ofstream(dir + "keep.txt") << "k";
    EXPECT_EQ(remove_stale_tmp_files(dir), 1);
    EXPECT_TRUE(fs::exists(dir + "keep.txt"));
    EXPECT_FALSE(fs::exists(dir + "x.safetensors.tmp"));
}

} // namespace
} // namespace pg
