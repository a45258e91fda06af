// safetensors: round trips, dtype conversions on load, atomic writes, and corrupt files.
#include <cstdio>
#include <fstream>

#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "tests/common/test_util.h"

namespace pg {
namespace {

std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "pg_" + name + ".safetensors";
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// A hand-made file: header JSON, then data bytes.
std::string make_file(const std::string& header, const std::string& data) {
    std::string out;
    uint64_t n = header.size();
    for (int i = 0; i < 8; i++) out.push_back(char((n >> (8 * i)) & 0xff));
    return out + header + data;
}

std::string expect_error(const std::string& path) {
    try {
        load_safetensors(path);
    } catch (const Error& e) { return e.what(); }
    ADD_FAILURE() << "no error for " << path;
    return "";
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
    std::string path = temp_path("roundtrip");
    std::map<std::string, Tensor> tensors{
        {"w", Tensor::from_vector(std::vector<float>{1.f, -2.5f, 3.f, 4.f, 5.f, 6.f}, {2, 3})},
        {"idx", Tensor::from_vector(std::vector<int32_t>{-1, 7}, {2})},
        {"mask", Tensor::from_vector(std::vector<uint8_t>{0, 255, 3}, {3})},
        {"half", Tensor::zeros({2}, DType::bf16)},
        {"scalar", Tensor::scalar(9.f)},
    };
    save_safetensors(path, tensors, {{"format", "pt"}});
    SafetensorsFile file = read_safetensors(path);
    ASSERT_EQ(file.tensors.size(), tensors.size());
    for (auto& [name, t] : tensors) EXPECT_TRUE(test::all_equal(file.tensors[name], t)) << name;
    EXPECT_EQ(file.metadata["format"], "pt");
    std::ifstream tmp(path + ".tmp");
    EXPECT_FALSE(tmp.good()) << "the temporary file must be renamed away";
}

TEST(Safetensors, WidensAndNarrowsForeignDtypes) {
    std::string path = temp_path("foreign");
    double d = 0.25;
    int64_t big = 12345, tracked = 7;
    uint16_t half_one = 0x3c00; // 1.0 in IEEE half
    std::string data(reinterpret_cast<char*>(&d), 8);
    data += std::string(reinterpret_cast<char*>(&big), 8);
    data += std::string(reinterpret_cast<char*>(&tracked), 8);
    data += std::string(reinterpret_cast<char*>(&half_one), 2);
    write_bytes(
        path,
        make_file(R"({"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
                  R"("i":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},)"
                  R"("bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[16,24]},)"
                  R"("h":{"dtype":"F16","shape":[1],"data_offsets":[24,26]}})",
                  data));
    auto t = load_safetensors(path);
    EXPECT_FLOAT_EQ(t["d"].item(), 0.25f);
    EXPECT_EQ(t["i"].to_i32_vector()[0], 12345);
    EXPECT_EQ(t["bn.num_batches_tracked"].dtype(), DType::i32);
    EXPECT_FLOAT_EQ(t["h"].item(), 1.f);
}

TEST(Safetensors, CorruptFilesGiveClearErrors) {
    EXPECT_NE(expect_error("/nonexistent/x.safetensors").find("cannot open"), std::string::npos);

    std::string short_file = temp_path("short");
    write_bytes(short_file, "abc");
    EXPECT_NE(expect_error(short_file).find("too short"), std::string::npos);

    std::string huge_header = temp_path("huge");
    write_bytes(huge_header, make_file("{}", "").replace(0, 1, "\xff"));
    EXPECT_NE(expect_error(huge_header).find("does not fit"), std::string::npos);

    std::string pth = temp_path("pth"); // torch.save's zip archive, header and some bytes
    write_bytes(pth, std::string("PK\x03\x04", 4) + std::string(200, 'x'));
    EXPECT_NE(expect_error(pth).find("a zip archive, as PyTorch's torch.save writes (.pth), not "
                                     "safetensors; convert it with /usr/bin/python3 "
                                     "tools/convert_pth.py"),
              std::string::npos);

    std::string bad_json = temp_path("badjson");
    write_bytes(bad_json, make_file("{not json", ""));
    EXPECT_NE(expect_error(bad_json).find("not valid JSON"), std::string::npos);

    std::string truncated = temp_path("truncated");
    write_bytes(truncated, make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                                     std::string(8, '\0')));
    std::string message = expect_error(truncated);
    EXPECT_NE(message.find("'w'"), std::string::npos) << message;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;

    std::string wrong_size = temp_path("wrongsize");
    write_bytes(wrong_size, make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})",
                                      std::string(16, '\0')));
    EXPECT_NE(expect_error(wrong_size).find("needs 12 bytes"), std::string::npos);

    std::string bad_dtype = temp_path("baddtype");
    write_bytes(bad_dtype, make_file(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})",
                                     std::string(8, '\0')));
    EXPECT_NE(expect_error(bad_dtype).find("unsupported dtype C64"), std::string::npos);
}

// Inputs found by `make fuzz`: each was an uncaught exception or undefined behaviour before.
TEST(Safetensors, FuzzFoundHeadersAreErrorsOrLoad) {
    std::string empty = temp_path("empty_tensor"); // shape [0]: an empty tensor, not a crash
    write_bytes(empty, make_file(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", ""));
    EXPECT_EQ(read_safetensors(empty).tensors.at("e").numel(), 0);
    const std::pair<const char*, const char*> cases[] = {
        {R"({"w":{"dtype":5,"shape":[1],"data_offsets":[0,4]}})", "malformed"},
        {R"({"w":{"dtype":"F32","shape":"x","data_offsets":[0,4]}})", "not a list of integers"},
        {R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "negative size"},
        {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})",
         "larger than the whole file"},
        {R"({"w":[1, 2]})", "lacks dtype"},
        {R"({"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}})", "not a list of integers"},
        {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}})", "not a list of integers"}};
    for (const auto& [header, text] : cases) {
        std::string path = temp_path("fuzz_case");
        write_bytes(path, make_file(header, std::string(4, '\0')));
        EXPECT_NE(expect_error(path).find(text), std::string::npos) << header;
    }
}

} // namespace
} // namespace pg
