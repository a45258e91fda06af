// One AdvSemiSeg iteration (seg/train/adversarial_step.h): three backward passes, two steps.
#include "seg/train/adversarial_step.h"

#include "autograd/elementwise.h"
#include "autograd/engine.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "autograd/reduce.h"
#include "autograd/softmax.h"
#include "seg/train/adversarial_parts.h"
#include "tensor/collectives.h"
#include "tensor/error.h"

namespace pg::seg::adversarial {
namespace {

void set_trainable(const std::vector<Tensor>& params, bool on) {
    for (Tensor t : params) t.set_requires_grad(on);
}

// 1. Unlabeled, D frozen: L_semi_adv = lambda_semi_adv BCE(D(softmax(P_u)), 1) and, with b.semi,
// L_semi = lambda_semi CE(P_u, argmax P_u where sigmoid(D) >= T). Returns P_u detached.
Tensor unlabeled_backward(nn::SegmentationNet& g, nn::FCDiscriminator& d, const StepConstants& k,
                          const StepBatches& b, int64_t step, StepLog& log, double& total) {
    int64_t h = b.labeled_images.size(1), w = b.labeled_images.size(2);
    PG_CHECK(b.unlabeled_images.size(1) == h && b.unlabeled_images.size(2) == w,
             "adversarial: labeled crops are ", h, "x", w, ", unlabeled ",
             b.unlabeled_images.size(1), "x", b.unlabeled_images.size(2),
             ": give both a fixed crop");
    Tensor pred = nn::upsample_logits(g.forward(b.unlabeled_images).logits, h, w);
    Tensor d_out = discriminator_logits(d, softmax(pred));
    Tensor semi_adv = mul(nn::bce_with_constant_target(d_out, 1.f), float(k.lambda_semi_adv));
    Tensor loss = semi_adv;
    double semi = 0, fraction = 0;
    if (b.semi && k.lambda_semi > 0) {
        int64_t kept = 0;
        Tensor target = semi_targets(pred, d_out, k.mask_threshold, kept);
        fraction = double(kept) / double(target.numel());
        // An empty mask adds nothing (the original then skips the unlabeled backward entirely,
        // L_semi_adv included; here L_semi_adv still trains G). Several processes all add the
        // term: its mean is over the kept pixels of all of them (one all-reduce each).
        if (kept > 0 || data_parallel_run()) {
            Tensor l_semi =
                mul(nn::cross_entropy_over_global_batch(pred, target), float(k.lambda_semi));
            semi = l_semi.item();
            loss = add(loss, l_semi);
        }
        if (b.unlabeled_labels.defined()) {
            TargetScores scores = score_targets(pred, target, b.unlabeled_labels);
            log.extra.emplace_back("semi_target_accuracy", scores.target_accuracy);
            log.extra.emplace_back("unlabeled_pixel_accuracy", scores.pixel_accuracy);
            log.extra.emplace_back("semi_target_foreground", scores.target_foreground);
            log.extra.emplace_back("unlabeled_foreground", scores.foreground);
        }
    }
    total += finite_loss_value(loss, step);
    backward_share(loss); // frees this pass's graph before the labeled pass builds its own
    log.losses.emplace_back("semi_adv", semi_adv.item());
    log.losses.emplace_back("semi", semi);
    log.extra.emplace_back("semi_mask_fraction", fraction);
    log.extra.emplace_back("d_confidence_unlabeled", mean(sigmoid(d_out.detach())).item());
    return pred.detach();
}

// 2. Labeled, D frozen: L_seg + lambda_adv BCE(D(softmax(P_l)), 1) over pixels not labeled 255.
Tensor labeled_backward(nn::SegmentationNet& g, nn::FCDiscriminator& d,
                        const nn::SegLossConfig& criterion, const StepConstants& k,
                        const StepBatches& b, int64_t step, StepLog& log, double& total) {
    int64_t h = b.labeled_images.size(1), w = b.labeled_images.size(2);
    Tensor pred = nn::upsample_logits(g.forward(b.labeled_images).logits, h, w);
    Tensor seg = nn::seg_loss({pred}, b.labels, criterion);
    Tensor d_out = discriminator_logits(d, softmax(pred));
    Tensor adv = mul(nn::bce_with_constant_target(d_out, 1.f, labeled_pixels(b.labels)),
                     float(k.lambda_adv));
    Tensor loss = add(seg, adv);
    total += finite_loss_value(loss, step);
    backward_share(loss);
    log.losses.insert(log.losses.begin(), {{"seg", seg.item()}, {"adv", adv.item()}});
    log.extra.emplace_back("d_confidence_labeled", mean(sigmoid(d_out.detach())).item());
    return pred.detach();
}

// 3. D on the detached predictions (target 0) and on the one-hot ground truth of its own labeled
// batch (target 1, all-zero maps at 255), each x 1/2.
void discriminator_backward(nn::FCDiscriminator& d, nn::Optimizer& d_optimizer, const Tensor& fake,
                            const Tensor& fake_valid, const Tensor& ground_truth,
                            int64_t num_classes, StepLog& log) {
    Tensor d_fake = discriminator_logits(d, softmax(fake));
    Tensor loss_fake = mul(nn::bce_with_constant_target(d_fake, 0.f, fake_valid), 0.5f);
    backward_share(loss_fake);
    Tensor d_real = discriminator_logits(d, ground_truth_maps(ground_truth, num_classes));
    Tensor loss_real =
        mul(nn::bce_with_constant_target(d_real, 1.f, labeled_pixels(ground_truth)), 0.5f);
    d_optimizer.average_during_next_backward(); // D's last pass of the step
    backward_share(loss_real);
    double f = loss_fake.item(), r = loss_real.item();
    log.part_losses.emplace_back("discriminator", f + r);
    log.extra.emplace_back("d_fake", f);
    log.extra.emplace_back("d_real", r);
    log.extra.emplace_back("d_confidence_ground_truth", mean(sigmoid(d_real.detach())).item());
}

} // namespace

double step(nn::SegmentationNet& g, nn::FCDiscriminator& d, const nn::SegLossConfig& criterion,
            const StepConstants& k, const StepBatches& b, nn::Optimizer& g_optimizer,
            nn::Optimizer& d_optimizer, int64_t step_index, StepLog& log) {
    g_optimizer.zero_grad();
    d_optimizer.zero_grad();
    double total = 0;
    // D frozen for G's terms: no gradient reaches its parameters, G's flows through its input.
    std::vector<Tensor> d_params = d.parameters();
    set_trainable(d_params, false);
    Tensor fake_u = b.unlabeled_images.defined()
                        ? unlabeled_backward(g, d, k, b, step_index, log, total)
                        : Tensor();
    g_optimizer.average_during_next_backward(); // G's last pass of the step
    Tensor fake_l = labeled_backward(g, d, criterion, k, b, step_index, log, total);
    set_trainable(d_params, true);
    Tensor fake = fake_l, valid = labeled_pixels(b.labels);
    if (fake_u.defined()) { // the original's D_remain: the unlabeled predictions are fakes too
        int64_t h = fake_l.size(1), w = fake_l.size(2);
        fake = concat({fake_l, fake_u}, 0);
        valid =
            concat({valid, Tensor::ones({fake_u.size(0), h, w}, DType::u8, fake_u.device())}, 0);
    }
    discriminator_backward(d, d_optimizer, fake, valid, b.ground_truth, g.num_classes(), log);
    g_optimizer.step();
    d_optimizer.step();
    return total;
}

} // namespace pg::seg::adversarial
