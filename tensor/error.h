// pg::Error and the checking macros used everywhere in the library.
// A failed check throws pg::Error whose message starts with file:line and carries the values that
// were wrong: PG_CHECK(c == k, "conv2d: input has ", c, " channels, weight expects ", k).
// Only the CLI catches; library code never prints and exits.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace pg {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Joins any streamable values into one string: str("a=", 3) == "a=3".
template <typename... Parts>
std::string str(const Parts&... parts) {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
}

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

} // namespace pg

#define PG_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) ::pg::throw_error(__FILE__, __LINE__, ::pg::str(__VA_ARGS__));                \
    } while (0)

#define PG_FAIL(...) ::pg::throw_error(__FILE__, __LINE__, ::pg::str(__VA_ARGS__))
