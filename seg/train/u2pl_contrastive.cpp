// U2PL's memory banks, pixel selection and contrastive loss (seg/train/u2pl_contrastive.h).
#include "seg/train/u2pl_contrastive.h"

#include <algorithm>
#include <numeric>

#include "autograd/ops.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::seg::u2pl {

// ---- memory bank ----

MemoryBank::MemoryBank(std::vector<int64_t> capacities, int64_t feature_dim, Device device)
    : capacities_(std::move(capacities)), feature_dim_(feature_dim), device_(device),
      keys_(capacities_.size()) {
    for (int64_t c : capacities_)
        PG_CHECK(c > 0, "u2pl: a memory bank capacity is ", c, ", expected > 0");
}

int64_t MemoryBank::size(int64_t c) const {
    const Tensor& k = keys_.at(size_t(c));
    return k.defined() ? k.size(0) : 0;
}

void MemoryBank::push(int64_t c, const Tensor& keys) {
    PG_CHECK(c >= 0 && c < num_classes(), "u2pl: memory bank class ", c, " out of range [0, ",
             num_classes(), ")");
    PG_CHECK(keys.dim() == 2 && keys.size(1) == feature_dim_ && keys.dtype() == DType::f32,
             "u2pl: memory bank keys ", shape_str(keys.shape()), " must be (n, ", feature_dim_,
             ") f32");
    if (keys.size(0) == 0) return;
    NoGradGuard no_grad;
    Tensor& q = keys_[size_t(c)];
    Tensor joined = q.defined() ? concat({q, keys.to(device_)}, 0) : keys.to(device_).detach();
    int64_t n = joined.size(0), cap = capacity(c);
    q = n > cap ? narrow(joined, 0, n - cap, cap) : joined;
}

void MemoryBank::push_from_every_process(const std::vector<Tensor>& keys) {
    const int64_t C = num_classes();
    PG_CHECK(int64_t(keys.size()) == C, "u2pl: ", keys.size(), " classes of keys for a bank of ",
             C);
    Collectives& collective = collectives();
    if (!data_parallel_run()) {
        for (int64_t c = 0; c < C; c++) push(c, keys[size_t(c)]);
        return;
    }
    // Each process's rows per class, then all its rows at once, class after class; class c's
    // slice of each process, in rank order, is what it pushes.
    CollectivePurpose purpose("U2PL's memory-bank negatives");
    const size_t world = size_t(collective.world_size());
    const size_t classes = static_cast<size_t>(C);
    std::vector<float> mine(classes), counts(world * classes); // (world, C)
    std::vector<Tensor> present;
    for (int64_t c = 0; c < C; c++) {
        const Tensor& k = keys[size_t(c)];
        PG_CHECK(k.dim() == 2 && k.size(1) == feature_dim_, "u2pl: memory bank keys ",
                 shape_str(k.shape()), " must be (n, ", feature_dim_, ")");
        mine[size_t(c)] = float(k.size(0));
        if (k.size(0) > 0) present.push_back(k);
    }
    collective.all_gather(mine.data(), C, counts.data());
    Tensor all = all_gather_rows(present.empty() ? Tensor::empty({0, feature_dim_})
                                                 : concat(present, 0)); // (rows of all, F)
    std::vector<std::vector<Tensor>> parts(classes);
    int64_t offset = 0;
    for (size_t p = 0; p < world; p++)
        for (int64_t c = 0; c < C; c++) {
            const int64_t n = int64_t(counts[p * classes + size_t(c)]);
            if (n > 0) parts[size_t(c)].push_back(narrow(all, 0, offset, n));
            offset += n;
        }
    for (int64_t c = 0; c < C; c++) {
        const auto& part = parts[size_t(c)];
        push(c, part.empty() ? Tensor::empty({0, feature_dim_}) : concat(part, 0));
    }
}

void MemoryBank::save(std::map<std::string, Tensor>& out, const std::string& prefix) const {
    for (size_t c = 0; c < keys_.size(); c++)
        if (keys_[c].defined()) out[prefix + std::to_string(c)] = keys_[c].to(Device::cpu());
}

void MemoryBank::load(const std::map<std::string, Tensor>& in, const std::string& prefix) {
    for (size_t c = 0; c < keys_.size(); c++) {
        auto it = in.find(prefix + std::to_string(c));
        keys_[c] = Tensor();
        if (it != in.end()) push(int64_t(c), it->second);
    }
}

// ---- pixel selection ----

// ranks[k] = the rank (0 = most probable) of class k at one pixel, ties to the lower class.
static void class_ranks(const float* p, int64_t C, std::vector<int32_t>& order,
                        std::vector<int32_t>& ranks) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [p](int32_t a, int32_t b) { return p[a] > p[b]; });
    for (int64_t r = 0; r < C; r++) ranks[size_t(order[size_t(r)])] = int32_t(r);
}

std::vector<ClassPixels> select_pixels(const ContrastiveInputs& in, const ContrastiveOptions& o) {
    const Shape& ls = in.labels.shape();
    PG_CHECK(ls.size() == 3 && in.prob_teacher.dim() == 4 && in.prob_teacher.size(0) == ls[0] &&
                 in.prob_teacher.size(1) == ls[1] && in.prob_teacher.size(2) == ls[2],
             "u2pl: labels ", shape_str(ls), " and teacher probabilities ",
             shape_str(in.prob_teacher.shape()), " must be (N, h, w) and (N, h, w, C)");
    int64_t N = ls[0], hw = ls[1] * ls[2], C = in.prob_teacher.size(3), L = in.num_labeled;
    Shape unlabeled_shape{N - L, ls[1], ls[2]};
    PG_CHECK(in.reliable.shape() == unlabeled_shape && in.unreliable.shape() == unlabeled_shape,
             "u2pl: reliable / unreliable masks must be ", shape_str(unlabeled_shape));
    std::vector<int32_t> labels = in.labels.to_i32_vector();
    std::vector<float> prob = in.prob_teacher.to_f32_vector();
    std::vector<uint8_t> reliable = in.reliable.to_u8_vector();
    std::vector<uint8_t> unreliable = in.unreliable.to_u8_vector();
    std::vector<ClassPixels> out(static_cast<size_t>(C));
    std::vector<int32_t> order(static_cast<size_t>(C)), ranks(order.size());
    for (int64_t i = 0; i < N * hw; i++) {
        int32_t y = labels[size_t(i)];
        if (y == 255) continue;
        PG_CHECK(y >= 0 && y < C, "u2pl: label ", y, " at pixel ", i, " outside [0, ", C, ")");
        bool labeled = i < L * hw;
        bool is_reliable = labeled || reliable[size_t(i - L * hw)];
        bool is_unreliable = labeled || unreliable[size_t(i - L * hw)];
        const float* p = prob.data() + i * C;
        if (is_reliable) {
            out[size_t(y)].prototype.push_back(int32_t(i));
            if (p[y] > o.anchor_threshold) out[size_t(y)].anchors.push_back(int32_t(i));
        }
        if (!is_unreliable) continue;
        class_ranks(p, C, order, ranks);
        for (int64_t c = 0; c < C; c++) {
            if (!(p[c] < o.negative_threshold)) continue;
            bool candidate =
                labeled ? (c != y && ranks[size_t(c)] < o.low_rank)
                        : (ranks[size_t(c)] >= o.low_rank && ranks[size_t(c)] < o.high_rank);
            // The original's negative mask also multiplies by the one-hot label of class c.
            if (o.compat_code) candidate = candidate && c == y;
            if (candidate) out[size_t(c)].negatives.push_back(int32_t(i));
        }
    }
    return out;
}

// ---- loss ----

// Rows scaled to unit length: x / max(|x|, 1e-8) along the last axis. (..., F) -> (..., F).
static Tensor unit_rows(const Tensor& x) {
    Tensor norm = sqrt(sum(mul(x, x), x.dim() - 1, /*keepdim=*/true));
    return div(x, clamp(norm, 1e-8f, 3.0e38f));
}

Tensor info_nce(const Tensor& anchors, const Tensor& positive, const Tensor& negatives,
                float temperature) {
    PG_CHECK(anchors.dim() == 2 && positive.dim() == 1 && negatives.dim() == 3 &&
                 negatives.size(0) == anchors.size(0) && negatives.size(2) == anchors.size(1) &&
                 positive.size(0) == anchors.size(1),
             "u2pl: info_nce wants anchors (Q, F), positive (F,), negatives (Q, K, F); got ",
             shape_str(anchors.shape()), ", ", shape_str(positive.shape()), ", ",
             shape_str(negatives.shape()));
    int64_t Q = anchors.size(0), F = anchors.size(1), K = negatives.size(1);
    Tensor a = unit_rows(anchors); // (Q, F)
    Tensor p, n;
    {
        NoGradGuard no_grad; // the keys are teacher embeddings: constants
        p = reshape(unit_rows(positive.detach()), {F, 1});
        n = permute(unit_rows(negatives.detach()), {0, 2, 1}); // (Q, F, K)
    }
    Tensor pos = matmul(a, p);                                      // (Q, 1)
    Tensor neg = reshape(matmul(reshape(a, {Q, 1, F}), n), {Q, K}); // (Q, K)
    Tensor logits = mul(concat({pos, neg}, 1), 1.0f / temperature); // (Q, 1 + K)
    Tensor target = Tensor::zeros({Q}, DType::i32, anchors.device());
    return cross_entropy(logits, target);
}

static Tensor index_tensor(const std::vector<int32_t>& idx, Device device) {
    return Tensor::from_vector(idx, {int64_t(idx.size())}, device);
}

// `count` uniform draws with replacement from `pool` (pixel ids) or, with pool empty, from
// [0, range).
static std::vector<int32_t> draw(Generator& gen, int64_t count, const std::vector<int32_t>& pool,
                                 int64_t range) {
    std::vector<int32_t> out(static_cast<size_t>(count));
    int64_t n = pool.empty() ? range : int64_t(pool.size());
    for (auto& v : out) {
        int64_t k = gen.randint(0, n);
        v = pool.empty() ? int32_t(k) : pool[size_t(k)];
    }
    return out;
}

ContrastiveResult contrastive_loss(const ContrastiveInputs& in, MemoryBank& bank,
                                   const ContrastiveOptions& o, Generator& gen) {
    int64_t F = in.rep.size(3), C = in.prob_teacher.size(3);
    PG_CHECK(bank.num_classes() == C && bank.feature_dim() == F, "u2pl: the memory bank has ",
             bank.num_classes(), " classes of ", bank.feature_dim(), "-d keys, the batch ", C,
             " classes of ", F, "-d embeddings");
    std::vector<ClassPixels> pix = select_pixels(in, o);
    Device device = in.rep.device();
    Tensor rep = reshape(in.rep, {-1, F}), rep_teacher = reshape(in.rep_teacher.detach(), {-1, F});
    ContrastiveResult result;
    std::vector<int64_t> valid;
    {
        NoGradGuard no_grad;
        std::vector<Tensor> negatives; // (n_c, F) per class, also without any here
        for (int64_t c = 0; c < C; c++) {
            const ClassPixels& cp = pix[size_t(c)];
            negatives.push_back(
                cp.negatives.empty()
                    ? Tensor::empty({0, F}, DType::f32, device)
                    : index_select(rep_teacher, index_tensor(cp.negatives, device)));
            result.negatives += int64_t(cp.negatives.size());
            if (!cp.prototype.empty()) valid.push_back(c);
        }
        bank.push_from_every_process(negatives); // gathers from every process
    }
    result.valid_classes = int64_t(valid.size());
    // No term: 0 * sum(rep), as the original, not a constant: the representation head then still
    // gets its (zero) gradient, so every process of a data-parallel run goes through the head's
    // SyncBN backward, whose all-reduces the others are waiting in.
    result.loss = mul(sum(in.rep), 0.f);
    if (valid.size() <= 1) return result;
    std::vector<Tensor> terms;
    for (size_t i = 0; i < valid.size(); i++) {
        // The original takes anchors and prototype from class i, the bank from valid[i].
        const ClassPixels& cp = pix[size_t(o.compat_code ? int64_t(i) : valid[i])];
        int64_t bank_class = valid[i], bank_size = bank.size(bank_class);
        if (cp.anchors.empty() || bank_size == 0) continue;
        Tensor anchors =
            index_select(rep, index_tensor(draw(gen, o.num_queries, cp.anchors, 0), device));
        Tensor positive, negatives;
        {
            NoGradGuard no_grad;
            positive = mean(index_select(rep_teacher, index_tensor(cp.prototype, device)), 0);
            std::vector<int32_t> keys = draw(gen, o.num_queries * o.num_negatives, {}, bank_size);
            negatives = reshape(index_select(bank.keys(bank_class), index_tensor(keys, device)),
                                {o.num_queries, o.num_negatives, F});
        }
        terms.push_back(info_nce(anchors, positive, negatives, o.temperature));
    }
    if (terms.empty()) return result;
    Tensor total = terms[0];
    for (size_t i = 1; i < terms.size(); i++) total = add(total, terms[i]);
    result.loss = div(total, float(valid.size()));
    return result;
}

} // namespace pg::seg::u2pl
