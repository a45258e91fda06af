// The run report (DESIGN.md section 6): RUN_DIR/report.html rendered from what a training run
// wrote there (config.yaml, metrics.jsonl, eval.json, overlays/*.png). One self-contained page:
// curves as inline SVG (seg/svg_chart.h), images as base64 data URIs, no scripts, no network.
// Missing files and malformed metric lines are reported on the page, never an error.
#pragma once

#include <string>
#include <vector>

namespace pg::seg {

// The page for `run_dir`, as write_report would write it; `notes` (when given) gets the page's
// notes (a missing file, malformed metric lines skipped). Throws pg::Error when run_dir is not a
// directory.
std::string render_report(const std::string& run_dir, std::vector<std::string>* notes = nullptr);

// Writes RUN_DIR/report.html (through report.html.tmp and a rename, so a reader never sees half a
// page) and returns its notes. Throws pg::Error naming the directory or the file when that fails.
std::vector<std::string> write_report(const std::string& run_dir);

// RFC 4648 base64 with '=' padding: "foo" -> "Zm9v", "f" -> "Zg==".
std::string base64_encode(const std::string& bytes);

} // namespace pg::seg
