// EMA teacher update and U2PL's decay rule (nn/ema.h).
#include "nn/ema.h"

#include <algorithm>

#include "autograd/inplace.h"
#include "autograd/node.h"
#include "tensor/error.h"

namespace pg::nn {

double ema_decay(int64_t k, double max_decay) {
    PG_CHECK(k >= 0,
             "ema_decay: iterations since the semi-supervised phase began must be >= 0, got ", k);
    PG_CHECK(max_decay >= 0 && max_decay <= 1, "ema_decay: max_decay must be in [0, 1], got ",
             max_decay);
    return std::min(1.0 - 1.0 / double(k + 1), max_decay);
}

static void check_pairs(const char* op, const std::vector<Tensor>& teacher,
                        const std::vector<Tensor>& student) {
    PG_CHECK(teacher.size() == student.size(), op, ": teacher has ", teacher.size(),
             " tensors, student has ", student.size());
    for (size_t i = 0; i < teacher.size(); i++) {
        PG_CHECK(teacher[i].defined() && student[i].defined(), op, ": tensor ", i, " is undefined");
        PG_CHECK(teacher[i].shape() == student[i].shape(), op, ": tensor ", i, " has shape ",
                 shape_str(teacher[i].shape()), " in the teacher, ", shape_str(student[i].shape()),
                 " in the student");
    }
}

void ema_update(const std::vector<Tensor>& teacher, const std::vector<Tensor>& student,
                double decay) {
    PG_CHECK(decay >= 0 && decay <= 1, "ema_update: decay must be in [0, 1], got ", decay);
    check_pairs("ema_update", teacher, student);
    NoGradGuard no_grad;
    for (size_t i = 0; i < teacher.size(); i++) {
        // PyTorch: ema_decay * t + (1 - ema_decay) * s, both scalars rounded to f32.
        mul_(teacher[i], float(decay));
        add_(teacher[i], student[i], float(1.0 - decay));
    }
}

void copy_params(const std::vector<Tensor>& teacher, const std::vector<Tensor>& student) {
    check_pairs("copy_params", teacher, student);
    NoGradGuard no_grad;
    for (size_t i = 0; i < teacher.size(); i++) copy_(teacher[i], student[i]);
}

} // namespace pg::nn
