// Running the real `pixelgrad` binary from a test, as a user's shell would: arguments, extra
// environment, the exit code (or the signal that killed it) and what it printed. Used by the
// bad-input catalogue and the crash-safety tests.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pg::seg {

struct CliResult {
    int exit_code = -1; // when the process exited
    int signal = 0;     // when a signal killed it
    std::string output; // stdout and stderr together
};

// Starts `pixelgrad args...` with `env` ("NAME=value") added to this process's environment,
// output to `log`; returns the child's pid.
inline pid_t start_pixelgrad(const std::vector<std::string>& args, const std::string& log,
                             const std::vector<std::string>& env = {}) {
    std::fflush(stdout); // else the child flushes a copy of what this process has buffered
    pid_t pid = fork();
    if (pid == 0) {
        FILE* out = std::freopen(log.c_str(), "w", stdout);
        if (out == nullptr || dup2(fileno(stdout), 2) < 0) _exit(127);
        for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
        std::vector<char*> argv{const_cast<char*>(PG_PIXELGRAD_BINARY)};
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(PG_PIXELGRAD_BINARY, argv.data());
        _exit(127);
    }
    return pid;
}

inline CliResult wait_pixelgrad(pid_t pid, const std::string& log) {
    CliResult r;
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    r.output = text.str();
    return r;
}

inline CliResult run_pixelgrad(const std::vector<std::string>& args,
                               const std::vector<std::string>& env = {}) {
    std::string log = ::testing::TempDir() + "pg_cli_" + std::to_string(getpid()) + ".log";
    return wait_pixelgrad(start_pixelgrad(args, log, env), log);
}

#ifdef PG_MPIRUN
// `mpirun pixelgrad args...` with one process per entry of `rank_env` (each entry: extra
// "NAME=value" settings for that rank; `rank_args`, when given: extra arguments for each rank),
// one OpenMP thread each, under a 120 s timeout so that a hang fails the test instead of the
// suite. Exit code 124 is the timeout's.
inline CliResult run_mpirun(const std::vector<std::vector<std::string>>& rank_env,
                            const std::vector<std::string>& args,
                            const std::vector<std::vector<std::string>>& rank_args = {}) {
    std::vector<std::string> words{"timeout", "120", PG_MPIRUN, "--oversubscribe"};
    for (size_t r = 0; r < rank_env.size(); r++) {
        if (r > 0) words.push_back(":");
        // Open MPI does not free its own allocations at exit: in the ASan build LeakSanitizer
        // would report them in every process it started (ASan's other checks stay on).
        words.insert(words.end(),
                     {"-np", "1", "-x", "OMP_NUM_THREADS=1", "-x", "LSAN_OPTIONS=detect_leaks=0"});
        for (const std::string& e : rank_env[r]) words.insert(words.end(), {"-x", e});
        words.push_back(PG_PIXELGRAD_BINARY);
        words.insert(words.end(), args.begin(), args.end());
        if (r < rank_args.size())
            words.insert(words.end(), rank_args[r].begin(), rank_args[r].end());
    }
    std::string log = ::testing::TempDir() + "pg_mpirun_" + std::to_string(getpid()) + ".log";
    std::fflush(stdout); // else the child flushes a copy of what this process has buffered
    pid_t pid = fork();
    if (pid == 0) {
        FILE* out = std::freopen(log.c_str(), "w", stdout);
        if (out == nullptr || dup2(fileno(stdout), 2) < 0) _exit(127);
        // As root (CI, containers) and without CMA single-copy, which containers often refuse.
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 1);
        std::vector<char*> argv;
        for (std::string& w : words) argv.push_back(w.data());
        argv.push_back(nullptr);
        execvp("timeout", argv.data());
        _exit(127);
    }
    return wait_pixelgrad(pid, log);
}
inline CliResult run_mpirun(int processes, const std::vector<std::string>& args) {
    return run_mpirun(std::vector<std::vector<std::string>>(size_t(processes)), args);
}
#endif

} // namespace pg::seg
