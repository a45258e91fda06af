// The training loop of `pixelgrad train` (seg/train/trainer.h): set-up from the config, the step
// (schedule, forward + loss by the method, backward, optimizer), logging, evaluation and the
// checkpoints that make a resumed run continue bit for bit.
#include "seg/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "nn/checkpoint.h"
#include "nn/data_parallel.h"
#include "nn/segmenter.h"
#include "nn/sync_batch_norm.h"
#include "seg/config_keys.h"
#include "seg/data_config.h"
#include "seg/evaluate.h"
#include "seg/model_config.h"
#include "seg/runtime.h"
#include "seg/train/finish.h"
#include "seg/train/parts.h"
#include "seg/train/resume_batch.h"
#include "seg/train/run_log.h"
#include "seg/train/same_run.h"
#include "seg/train/stop_signals.h"
#include "tensor/collectives.h"
#include "tensor/error.h"
#include "tensor/file_io.h"
#include "tensor/safetensors.h"

namespace pg::seg {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Everything a run holds; built by setup(), driven by train().
struct Run {
    explicit Run(Config c) : config(std::move(c)) {}
    Config config;
    TrainOptions options;
    fs::path dir;
    Device device;
    uint64_t seed = 0;
    nn::SegmenterOptions net_options;
    std::shared_ptr<nn::SegmentationNet> model;
    Generator dropout_gen;   // the student's dropout masks
    std::vector<Part> parts; // parts[0] is the model; then the method's (seg/train/parts.h)
    std::unique_ptr<Loader> loader;
    std::unique_ptr<Method> method;
    Dataset val;
    std::vector<std::string> class_names;
    int64_t total_steps = 0, steps_per_epoch = 0, step = 0;
    int64_t log_every = 10, eval_interval = 0, save_every = 0, eval_limit = 0;
    double best_miou = -1, last_miou = -1;
    int64_t best_step = 0;
    bool eval_pending = false; // resumed from `last` saved before this step's evaluation
    std::unique_ptr<MetricsLog> metrics;
    StepWindow window; // the logging window in progress (saved with `last`)
};

static std::string checkpoint(const Run& run, const std::string& name) {
    return (run.dir / "checkpoints" / name).string();
}

// ---- set-up ----

// Data parallel (under mpirun): rank 0 alone writes the run directory, logs, evaluates and saves.
static bool is_root() { return collectives().rank() == 0; }

// Loads backbone (or whole-model) weights from saver.pretrain, non-strictly, after prefixing
// their keys (an ImageNet ResNet's "conv1.weight" is the DeepLabV3+'s "encoder.conv1.weight").
static void load_pretrained(Run& run) {
    std::string path = run.config.get_string("saver.pretrain", "");
    if (path.empty()) return;
    std::string prefix =
        run.config.get_string("saver.pretrain_prefix",
                              run.net_options.arch == nn::SegArch::deeplabv3plus ? "encoder." : "");
    PG_CHECK(fs::is_regular_file(path), run.config.origin("saver.pretrain"),
             ": saver.pretrain is '", path,
             "', which is not a file: convert the ImageNet weights with tools/convert_pth.py "
             "(README, \"Your own VOC or Cityscapes\"), or set saver.pretrain to \"\" to train "
             "from scratch");
    SafetensorsFile file = read_safetensors(path);
    nn::refuse_train_state(file.metadata, path);
    std::map<std::string, Tensor> loaded;
    size_t prefixed_already = 0; // keys that start with the prefix before it is added
    for (auto& [key, t] : file.tensors) {
        loaded[prefix + key] = t;
        prefixed_already += !prefix.empty() && key.rfind(prefix, 0) == 0;
    }
    nn::check_finite_weights(loaded, path, /*allow=*/false);
    nn::LoadReport report = run.model->load_state_dict(loaded, /*strict=*/false);
    size_t used = loaded.size() - report.unexpected.size() - report.mismatched.size();
    PG_CHECK(used > 0, run.config.origin_of_any({"saver.pretrain", "saver.pretrain_prefix"}),
             ": saver.pretrain ", path, " matched no parameter of the model (keys prefixed with '",
             prefix, "'; set saver.pretrain_prefix",
             prefixed_already > 0 ? " to \"\": the file's keys start with '" + prefix +
                                        "' already, as a whole model's checkpoint's do)"
                                  : ")");
    if (is_root())
        std::printf("pretrained: %zu tensors from %s (%zu of the model's left at init)\n", used,
                    path.c_str(), report.missing.size());
}

// The run directory. A run exists once its first `last` checkpoint does (last.state is the commit
// point): a new run refuses such a folder, so nothing is overwritten, and --resume needs one. A
// folder whose run failed before its first checkpoint holds nothing to continue: a new run
// replaces its metrics.jsonl, eval.json and best checkpoint (saying so).
static fs::path run_dir_path(const Config& config, const TrainOptions& o) {
    std::string dir = o.run_dir.empty() ? config.get_string("saver.snapshot_dir", "") : o.run_dir;
    PG_CHECK(!dir.empty(), config.source(),
             ": no run directory: set saver.snapshot_dir or pass --run-dir");
    return fs::path(dir);
}

static fs::path prepare_run_dir(const Config& config, const TrainOptions& o) {
    fs::path p = run_dir_path(config, o);
    const std::string dir = p.string();
    PG_CHECK(!fs::exists(p) || fs::is_directory(p), "train: the run directory ", dir,
             " exists and is not a folder");
    bool has_run = fs::exists(p / "checkpoints" / "last.state.safetensors");
    if (o.resume) {
        PG_CHECK(has_run,
                 "train --resume: ", (p / "checkpoints" / "last.state.safetensors").string(),
                 " does not exist (nothing to resume in ", dir,
                 "; a run that stopped before its first checkpoint starts again without --resume)");
        return p;
    }
    PG_CHECK(!has_run, "train: the run directory ", dir,
             " already holds a run; pass --resume to continue it, or choose another --run-dir");
    bool leftovers = false;
    for (const fs::path& f :
         {p / "metrics.jsonl", p / "eval.json", p / "checkpoints" / "best.safetensors",
          p / "checkpoints" / "last.safetensors"})
        leftovers |= fs::remove(f);
    if (leftovers)
        std::fprintf(stderr,
                     "train: %s held a run that stopped before its first checkpoint; starting it "
                     "again\n",
                     dir.c_str());
    return p;
}

static void setup_schedule(Run& run) {
    const Config& c = run.config;
    run.steps_per_epoch = run.loader->batches_per_epoch();
    PG_CHECK(run.steps_per_epoch > 0,
             c.origin_of_any({"dataset.batch_size", "dataset.global_batch_size", "dataset.train"}),
             ": the train split has ", run.loader->dataset().size(),
             " images, fewer than dataset.batch_size");
    // The key read is the one blamed: iterations wins over epochs, eval_interval over eval_every.
    const char* length = c.has("trainer.iterations") ? "trainer.iterations" : "trainer.epochs";
    run.total_steps = c.has("trainer.iterations")
                          ? c.get_int("trainer.iterations")
                          : c.get_int("trainer.epochs") * run.steps_per_epoch;
    PG_CHECK(run.total_steps > 0, c.origin(length), ": ", length, " gives ", run.total_steps,
             " steps, expected at least 1");
    run.log_every = std::max<int64_t>(1, c.get_int("trainer.log_every", 10));
    const bool eval_on = c.get_bool("trainer.eval_on", true);
    const char* every =
        c.has("trainer.eval_interval") ? "trainer.eval_interval" : "trainer.eval_every";
    run.eval_interval = eval_on
                            ? c.get_int("trainer.eval_interval",
                                        c.get_int("trainer.eval_every", 1) * run.steps_per_epoch)
                            : 0;
    PG_CHECK(!eval_on || run.eval_interval >= 1, c.origin(every), ": ", every,
             " gives an evaluation every ", run.eval_interval,
             " steps, expected at least 1 (trainer.eval_on: false turns evaluation off)");
    run.save_every = c.get_int("saver.save_every", run.eval_interval);
    run.eval_limit = c.get_int("trainer.eval_limit", 0);
}

// The model (backbone at the base lr, heads at trainer.head_lr_mult times it), then the method's.
static void setup_parts(Run& run) {
    double head_mult = run.config.get_float("trainer.head_lr_mult", 10.0);
    PG_CHECK(head_mult >= 0, run.config.origin("trainer.head_lr_mult"),
             ": trainer.head_lr_mult is ", head_mult, ", expected >= 0");
    std::vector<nn::ParamGroup> groups{{run.model->backbone_parameters(), 1.0, -1.0},
                                       {run.model->head_parameters(), head_mult, -1.0}};
    run.parts.push_back(make_part(run.config, PartSpec{"model", run.model.get(), "trainer", groups},
                                  run.total_steps));
    for (const PartSpec& spec : run.method->parts()) {
        PG_CHECK(spec.name != "model", "train: a method declared a second part 'model'");
        run.parts.push_back(make_part(run.config, spec, run.total_steps));
    }
}

static void setup(Run& run) {
    Config& c = run.config;
    run.seed = uint64_t(c.get_int("trainer.seed", 0));
    std::string device =
        run.options.device.empty() ? c.get_string("trainer.device", "cpu") : run.options.device;
    run.device = parse_device(device); // under mpirun cuda:0 is this process's own GPU (runtime.h)
    run.net_options = segmenter_options(c.section("net"));
    int classes = int(c.get_int("net.num_classes"));
    Config data = c.section("dataset");
    run.class_names = class_names(data, classes);

    Generator init_gen(run.seed);
    run.model = nn::build_segmenter(run.net_options, init_gen);
    load_pretrained(run);
    run.model->to(run.device);
    run.dropout_gen = Generator(run.seed + 0x5eed);
    run.model->set_generator(&run.dropout_gen);
    run.model->train();

    LoaderConfig lc = train_loader_config(data, run.seed);
    lc.infinite = true;
    // U2PL: an epoch is as many samples as the unlabeled split has (N_total - N_labeled).
    if (c.get_string("trainer.epoch_samples", "") == "unlabeled")
        lc.samples_per_epoch = open_split(data, "unlabeled", classes, false).size();
    else
        lc.samples_per_epoch = c.get_int("trainer.epoch_samples", 0);
    // RIPU trains on dataset.source (GTAV, SYNTHIA) where other methods use dataset.train.
    std::string labeled = data.has("source") ? "source" : "train";
    run.loader = std::make_unique<Loader>(open_split(data, labeled, classes),
                                          train_augment(data, labeled), lc);
    // Unequal shares of the global batch weigh each process's loss by its share (exactly 1 for
    // equal shares; backward_share). Every method's loaders take the same shares.
    nn::set_share_weight(float(double(lc.batch_size) * lc.world / run.loader->global_batch()));
    if (c.get_bool("trainer.eval_on", true)) run.val = open_split(data, "val", classes);
    setup_schedule(run);

    std::string method = c.get_string("trainer.method", "supervised");
    MethodContext ctx{&run.config,
                      run.model,
                      run.device,
                      run.seed,
                      run.total_steps,
                      run.steps_per_epoch,
                      (run.dir / method).string(),
                      run.options.quiet};
    run.method = make_method(method, ctx);
    setup_parts(run);
    // SyncBN (U2PL's configs): BN statistics over every process's rows; one process: plain BN.
    if (c.get_bool("net.sync_bn", false))
        for (const Part& part : run.parts) nn::convert_sync_batch_norm(*part.module);
}

// ---- checkpoints ----

// eval_pending: saved before this step's evaluation, which --resume then runs first.
static void save_last(Run& run, bool eval_pending = false) {
    if (!is_root()) return;
    nn::TrainState s;
    s.step = run.step;
    s.epoch = run.step / run.steps_per_epoch;
    s.numbers["eval_pending"] = eval_pending ? 1 : 0;
    save_parts(run.parts, s);
    s.save_generator("dropout", run.dropout_gen);
    s.numbers["best_miou"] = run.best_miou;
    s.numbers["best_step"] = double(run.best_step);
    s.numbers["last_miou"] = run.last_miou;
    run.window.save(s.numbers, "window.");
    s.numbers["world_size"] = collectives().world_size();
    s.numbers["batch_size"] = double(run.loader->batch_size()); // rank 0's
    s.numbers["global_batch"] = double(run.loader->global_batch());
    run.method->save_state(s);
    // The state file holds everything and is written last: it is the commit point. A kill between
    // the two renames leaves last.safetensors one checkpoint ahead, and resume() rewrites it from
    // the state, so the pair agrees again before training goes on.
    nn::save_weights(*run.model, checkpoint(run, "last.safetensors"),
                     nn::segmenter_name(run.net_options));
    crash_point("train:between-checkpoint-files");
    nn::save_train_state(checkpoint(run, "last.state.safetensors"), s);
}

static void resume(Run& run, const nn::TrainState& s, const std::string& path) {
    load_parts(run.parts, s, path);
    s.restore_generator("dropout", run.dropout_gen);
    run.best_miou = s.numbers.at("best_miou");
    run.best_step = int64_t(s.numbers.at("best_step"));
    run.last_miou = s.numbers.at("last_miou");
    run.eval_pending = s.numbers.count("eval_pending") && s.numbers.at("eval_pending") != 0;
    run.method->load_state(s);
    run.window.restore(s.numbers, "window.");
    run.step = s.step;
    if (is_root())
        nn::save_weights(*run.model, checkpoint(run, "last.safetensors"),
                         nn::segmenter_name(run.net_options));
    run.loader->seek_batches(run.step); // one labeled batch per step
    if (!run.options.quiet)
        std::printf("resumed %s at step %lld\n", run.dir.c_str(), (long long)run.step);
}

// ---- evaluation ----

static void evaluate_on_root(Run& run) {
    crash_point("train:evaluating");
    Config data = run.config.section("dataset");
    EvalOptions eo = eval_options(data);
    auto start = Clock::now();
    nn::SegmentationNet& net = run.method->eval_net();
    ConfusionMatrix cm = evaluate(net, run.val, eval_augment(data), eo, run.device, run.eval_limit);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    run.last_miou = cm.mean_iou();
    int64_t epoch = run.step / run.steps_per_epoch;
    nlohmann::json row = nlohmann::json::parse(cm.to_json());
    row["type"] = "eval";
    row["step"] = run.step;
    row["epoch"] = epoch;
    row["seconds"] = seconds;
    run.metrics->write(row.dump());
    bool best = run.last_miou > run.best_miou;
    if (!run.options.quiet)
        std::printf("eval step %lld: mIoU %.2f%s (%.1f s)\n", (long long)run.step,
                    100 * run.last_miou, best ? " (best)" : "", seconds);
    if (!best) return;
    run.best_miou = run.last_miou;
    run.best_step = run.step;
    nn::save_weights(net, checkpoint(run, "best.safetensors"), nn::segmenter_name(run.net_options));
    nlohmann::json extra{{"checkpoint", "best"}, {"step", run.step}, {"epoch", epoch}};
    int64_t images = run.eval_limit > 0 ? std::min(run.eval_limit, run.val.size()) : run.val.size();
    std::string text = eval_json(cm, run.class_names, eo, images, extra.dump());
    write_file_atomic((run.dir / "eval.json").string(), "train", text + "\n");
}

// Rank 0 evaluates; the other processes wait for it here rather than in their next all-reduce,
// whose timeout is meant for a process that hangs (a VOC evaluation on a CPU can take an hour).
static void evaluate_and_log(Run& run) {
    if (is_root()) evaluate_on_root(run);
    collectives().barrier();
}

// ---- the loop ----

// One step of the method (by default: loss, backward, the model's optimizer); returns the model's
// total loss.
static double train_step(Run& run, StepLog& log) {
    PartOptimizers optimizers = optimizers_for_step(run.parts, run.step);
    Batch batch;
    run.loader->next(batch);
    batch.images = batch.images.to(run.device);
    batch.labels = batch.labels.to(run.device);
    int64_t epoch = run.step / run.steps_per_epoch;
    // Rank 0's BN statistics on every process before each step (DDP's broadcast_buffers): without
    // SyncBN each process's would drift apart, and eval-mode forwards (U2PL's teacher, RIPU's
    // rounds) would then differ between processes.
    for (const Part& part : run.parts) nn::broadcast_buffers(*part.module);
    double value = run.method->step(batch, run.step, epoch, optimizers, log);
    run.method->after_step(run.step, epoch);
    ++run.step;
    return value;
}

static bool due(int64_t step, int64_t interval) { return interval > 0 && step % interval == 0; }

// --resume with --config: that file replaces the run's own config.yaml, which may change the run
// (more steps, evaluation back on): said when they differ. Left out of the comparison: the keys
// training writes into the run's copy itself (its folder; the global batch, which a resumed run
// keeps whatever the file says).
static void note_a_replaced_config(const Config& config, const TrainOptions& options) {
    const fs::path own = run_dir_path(config, options) / "config.yaml";
    if (!fs::exists(own)) return;
    Config given = config, kept = Config::load(own.string(), options.overrides);
    for (Config* c : {&given, &kept})
        for (const char* key :
             {"saver.snapshot_dir", "dataset.batch_size", "dataset.global_batch_size"})
            c->set(key, "written by training");
    if (kept.to_yaml() != given.to_yaml())
        std::fprintf(stderr,
                     "train --resume: going on with --config %s, which differs from the run's "
                     "own %s (leave --config out to keep it)\n",
                     options.config.c_str(), own.c_str());
}

// The run config: --config, or RUN_DIR/config.yaml for --resume without one; keys checked.
static Config run_config(const TrainOptions& options) {
    std::string config_path = options.config;
    if (config_path.empty() && options.resume && !options.run_dir.empty()) {
        config_path = (fs::path(options.run_dir) / "config.yaml").string();
        PG_CHECK(fs::exists(config_path), "train --resume: ", options.run_dir,
                 " holds no run (no config.yaml): nothing to resume");
    }
    PG_CHECK(!config_path.empty(), options.resume
                                       ? "train --resume: give --run-dir, the folder of the run "
                                         "to continue (its config.yaml is the run's config)"
                                       : "train: no --config given");
    Config config = Config::load(config_path, options.overrides);
    check_config_keys(config);
    if (options.resume && !options.config.empty() && is_root())
        note_a_replaced_config(config, options);
    return config;
}

// dataset.partial: the ids of the seeded labeled subset (and of the rest, when that is the
// unlabeled split) as RUN_DIR/labeled_ids.txt and unlabeled_ids.txt, one id per line. A resumed
// run must pick the same ids: a changed list or seed is an error, not a silent new subset.
static void save_partial_ids(const Run& run) {
    Config data = run.config.section("dataset");
    if (!data.has("partial")) return;
    auto ids_text = [](const Dataset& d) {
        std::string text;
        for (int64_t i = 0; i < d.size(); ++i) text += d.id(i) + "\n";
        return text;
    };
    std::vector<std::pair<std::string, std::string>> files{
        {"labeled_ids.txt", ids_text(run.loader->dataset())}};
    if (!data.has("unlabeled.list"))
        files.emplace_back("unlabeled_ids.txt",
                           ids_text(open_split(data, "unlabeled",
                                               int(run.config.get_int("net.num_classes")), false)));
    for (const auto& [name, text] : files) {
        std::string path = (run.dir / name).string();
        if (run.options.resume && fs::exists(path)) {
            std::ifstream in(path, std::ios::binary);
            std::string saved((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
            PG_CHECK(saved == text, "train --resume: dataset.partial now picks other images than ",
                     path, " (the train list or partial.seed changed since the run started)");
            continue;
        }
        write_file_atomic(path, "train", text);
    }
}

// Built in place: the network and the method keep pointers into `run`.
static void start_run(Run& run, TrainOptions options) {
    const bool root = is_root();
    if (!root) options.quiet = true; // one progress line per run, from rank 0
    run.options = options;
    run.dir = root ? prepare_run_dir(run.config, options) : run_dir_path(run.config, options);
    nn::TrainState saved;
    const std::string saved_path = checkpoint(run, "last.state.safetensors");
    if (options.resume) {
        saved = nn::load_train_state(saved_path);
        keep_global_batch(run.config, saved, saved_path);
    }
    setup(run);
    check_processes_agree(run.config, run.loader->dataset(), run.val);
    if (root) {
        fs::create_directories(run.dir / "checkpoints"); // only once the config has proved usable
        remove_stale_tmp_files(run.dir.string());        // from a process killed while writing
        remove_stale_tmp_files((run.dir / "checkpoints").string());
        save_partial_ids(run);
    }
    if (options.resume) resume(run, saved, saved_path);
    // Every process starts from rank 0's weights and buffers (they agree already unless a part
    // was initialised from a process-local random draw).
    for (const Part& part : run.parts) nn::broadcast_module(*part.module);
    if (!root) return;
    // The run's config names the folder it was trained in (--run-dir wins over the file's), so
    // commands reading it later (select's default --out) find the run's own files.
    run.config.set("saver.snapshot_dir", run.dir.string());
    run.config.save((run.dir / "config.yaml").string());
    run.metrics = std::make_unique<MetricsLog>((run.dir / "metrics.jsonl").string(),
                                               options.resume ? run.step : -1, run.eval_pending);
}

// Writes the train row of the window that ends at this step; returns its mean loss.
static double log_window(Run& run, Clock::time_point window_start, bool tty) {
    double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
    // lr_<part>: each part's base group lr of this step (heads run at head_lr_mult times it).
    TrainRow row{run.step, run.step / run.steps_per_epoch, part_lrs(run.parts),
                 double(run.window.timed_steps()) / std::max(secs, 1e-9),
                 memory_in_use_mib(run.device)};
    if (run.metrics) run.metrics->write(train_row_json(row, run.window)); // rank 0's
    if (!run.options.quiet)
        std::printf(tty ? "\r%s\033[K" : "%s\n",
                    progress_line(row, run.total_steps, run.window).c_str());
    std::fflush(stdout);
    double mean = run.window.mean_loss();
    run.window.clear();
    return mean;
}

TrainResult train(const TrainOptions& options) {
    Run run(run_config(options));
    start_run(run, options);
    if (options.profile_steps > 0) {
        profile_steps(run.model->parameter_count(), options.profile_steps, run.dir.string(),
                      [&](StepLog& log) { train_step(run, log); });
        return TrainResult{run.dir.string(), run.step};
    }
    if (!run.options.quiet)
        std::printf("train %s: %s, %lld parameters, %lld steps (%lld per epoch) on %s -> %s%s\n",
                    run.method->name(), nn::segmenter_name(run.net_options).c_str(),
                    (long long)run.model->parameter_count(), (long long)run.total_steps,
                    (long long)run.steps_per_epoch, run.device.name().c_str(), run.dir.c_str(),
                    collectives().world_size() > 1 ? (" (" + collectives().describe() + ")").c_str()
                                                   : "");
    if (collectives().world_size() == 1 && data_parallel_run()) { // said even with -q
        DeviceCollectives* own =
            run.device.is_cpu() ? nullptr : device_collectives(run.device.type);
        std::fprintf(stderr,
                     "note: PG_FORCE_DATA_PARALLEL=1: one process takes the data-parallel "
                     "path (%s)\n",
                     (own ? own->describe() : collectives().describe()).c_str());
    }
    if (!run.options.quiet && run.device.is_cpu() && is_root())
        if (std::string note = cpu_kernels_held_back_note(); !note.empty())
            std::fprintf(stderr, "%s\n", note.c_str());

    TrainResult result;
    result.run_dir = run.dir.string();
    // A live progress line (\r, erase) only on a terminal: under mpirun (even of one process)
    // stdout is a pseudo-terminal of Open MPI's whatever mpirun's own output is (often a log file).
    bool tty = isatty(fileno(stdout)) && !launched_by_mpirun();
    int64_t stop_at = options.stop_after > 0
                          ? std::min(run.total_steps, run.step + options.stop_after)
                          : run.total_steps;
    bool first_window = true;
    int64_t saved_step = options.resume ? run.step : -1; // the step `last` holds
    StopSignals signals;
    // The untrained network's score: the curve's starting point (trainer.eval_at_start).
    if (run.step == 0 && run.eval_interval > 0 &&
        run.config.get_bool("trainer.eval_at_start", false))
        evaluate_and_log(run);
    // The evaluation the resumed run had not finished (unless evaluation is now off: a bad val
    // label is then worked around); `last` then says it is done.
    if (run.eval_pending) {
        if (run.eval_interval > 0) evaluate_and_log(run);
        save_last(run);
        saved_step = run.step;
    }
    auto window_start = Clock::now(); // (after those evaluations: the window's it/s is of steps)
    while (run.step < stop_at && !signals.agreed()) {
        StepLog log;
        double loss = train_step(run, log);
        run.window.add(log, loss);
        crash_point("train:after-step");
        // Rows at the logging interval only (and at the very end), so a run stopped and resumed
        // mid-window logs the rows of an uninterrupted run: the window is saved with `last`.
        if (due(run.step, run.log_every) || run.step == run.total_steps) {
            double mean = log_window(run, window_start, tty);
            if (first_window) result.first_loss = mean;
            first_window = false;
            result.last_loss = mean;
            window_start = Clock::now();
        }
        bool eval_now = run.eval_interval > 0 &&
                        (due(run.step, run.eval_interval) || run.step == run.total_steps);
        if (eval_now) {
            if (tty && !run.options.quiet) std::printf("\n");
            // `last` first: an evaluation that fails (a bad label in the val split) or is killed
            // loses no training; --resume runs it again before the next step.
            save_last(run, /*eval_pending=*/true);
            evaluate_and_log(run);
        }
        if (eval_now || due(run.step, run.save_every) || run.step == stop_at || signals.agreed()) {
            save_last(run);
            saved_step = run.step;
        }
    }
    if (tty && !run.options.quiet) std::printf("\n");
    // A signal that came before the first step, or during the last step's evaluation / save.
    const int stop_signal = signals.agreed();
    if (stop_signal && saved_step != run.step) save_last(run);
    result.steps = run.step;
    result.best_miou = run.best_miou;
    result.best_step = run.best_step;
    result.last_miou = run.last_miou;
    result.completed = run.step == run.total_steps;
    result.stop_signal = stop_signal;
    if (result.stop_signal) {
        if (is_root())
            std::fprintf(stderr,
                         "train: stopped by %s after step %lld; the last checkpoint is written. "
                         "Continue with: pixelgrad train --resume --run-dir %s\n",
                         result.stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)run.step,
                         run.dir.c_str());
        return result;
    }
    if (!result.completed && !options.quiet && is_root()) // --stop-after ended this session
        std::printf("train: stopped after step %lld of %lld (--stop-after); continue with: "
                    "pixelgrad train --resume --run-dir %s\n",
                    (long long)run.step, (long long)run.total_steps, run.dir.c_str());
    if (result.completed && options.finish && is_root()) {
        FinishInputs in{&run.config, run.net_options,  run.val,
                        run.device,  run.dir.string(), run.config.get_int("trainer.overlays", 6)};
        finish_run(in, options.quiet);
    }
    return result;
}

} // namespace pg::seg
