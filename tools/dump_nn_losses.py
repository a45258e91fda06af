"""Reference dump for nn/losses: tests/data/nn_losses.safetensors, read by tests/nn/losses_test.cpp.

OHEM cross-entropy: our own PyTorch re-implementation of U2PL's OhemCrossEntropy2dTensor
(u2pl/utils/loss_helper.py, used by CriterionOhem), written from reading the original: the
threshold branch, the min_kept branch, few valid pixels, min_kept = 0, min_kept at num_valid and
num_valid - 1, ties at the k-th value, class weights. Also: CE on logits upsampled with
align_corners=True, the main + 0.4 aux criterion (CE and OHEM), AdvSemiSeg's BCEWithLogitsLoss2d
against a constant label map, torch.nn.MultiLabelSoftMarginLoss. Values and logits gradients,
all NHWC. Run: /usr/bin/python3 tools/dump_nn_losses.py
"""
import torch
import torch.nn.functional as F

from pgref import nchw, nhwc, save

IGNORE = 255


def u2pl_ohem(pred, target, thresh, min_kept, weight=None, ignore=IGNORE):
    """U2PL's OHEM CE. pred (b, c, h, w), target (b, h, w) int64 -> (loss, kept target)."""
    b, c, h, w = pred.shape
    with torch.no_grad():
        t = target.reshape(-1).clone()
        valid = t.ne(ignore)
        t = t * valid.long()
        num_valid = int(valid.sum())
        prob = F.softmax(pred, dim=1).transpose(0, 1).reshape(c, -1)
        if min_kept > num_valid:
            pass  # too few labelled pixels: plain CE
        elif num_valid > 0:
            prob = prob.masked_fill(~valid, 1.0)  # every class of an ignored pixel -> 1
            mask_prob = prob[t, torch.arange(len(t))]
            threshold = thresh
            if min_kept > 0:  # the selection only happens in here (min_kept = 0: plain CE)
                _, index = mask_prob.sort()
                threshold_index = index[min(len(index), min_kept) - 1]
                if mask_prob[threshold_index] > thresh:
                    threshold = mask_prob[threshold_index]
                kept = mask_prob.le(threshold)
                t = t * kept.long()
                valid = valid * kept
        t = t.masked_fill(~valid, ignore).view(b, h, w)
    return F.cross_entropy(pred, t, weight=weight, ignore_index=ignore), t


def target_probs(pred, target):
    """Softmax probability of the target class of each valid pixel (for the margin checks)."""
    p = F.softmax(pred, dim=1).permute(0, 2, 3, 1).reshape(-1, pred.shape[1])
    t = target.reshape(-1)
    valid = t != IGNORE
    return p[valid, t[valid]]


def margins_ok(p, values, margin=1e-2):
    """Keeps the selection stable in f32 and under a gradcheck's +-1e-3 logit steps (which move p
    by at most 1e-3 p (1 - p)): no valid probability other than v itself lies within
    margin * min(v, 1 - v) of v."""
    for v in values:
        close = (p - v).abs()
        close = close[close > 0]
        gap = max(margin * min(v, 1 - v), 1e-5 * v)
        if close.numel() > 0 and close.min() <= gap:
            return False
    return True


def ohem_case(out, name, logits, target, thresh, min_kept, weight=None, expect=None):
    """logits NHWC; stores inputs, loss, kept target and d loss / d logits."""
    x = nchw(logits).requires_grad_(True)
    loss, kept = u2pl_ohem(x, target.long(), thresh, min_kept, weight)
    loss.backward()
    p = target_probs(x.detach(), target.long())
    num_valid, num_kept = p.numel(), int((kept != IGNORE).sum())
    kth = p.sort().values[min_kept - 1].item() if 0 < min_kept <= num_valid else None
    used = [thresh] + ([kth] if kth is not None and kth > thresh else [])  # the thresholds used
    assert margins_ok(p, used), f"{name}: a probability is near a threshold"
    if expect is not None:
        assert expect(num_valid, num_kept, kth), f"{name}: not the intended branch"
    print(f"ohem {name}: valid {num_valid} kept {num_kept} min_kept {min_kept} kth {kth}")
    out[f"ohem_{name}_logits"] = logits
    out[f"ohem_{name}_target"] = target.int()
    out[f"ohem_{name}_min_kept"] = torch.tensor([min_kept], dtype=torch.int32)
    out[f"ohem_{name}_loss"] = loss
    out[f"ohem_{name}_kept"] = kept.int()
    out[f"ohem_{name}_dx"] = nhwc(x.grad)


def labels(gen, shape, classes, ignore_frac):
    t = torch.randint(0, classes, shape, generator=gen)
    t[torch.rand(shape, generator=gen) < ignore_frac] = IGNORE
    return t


def ohem_cases(gen, out):
    # (2, 6, 7, 5): 84 pixels, ~15% ignored. Logits spread so that many target probs exceed 0.7.
    logits = torch.randn(2, 6, 7, 5, generator=gen) * 3
    target = labels(gen, (2, 6, 7), 5, 0.15)
    # Threshold branch: k-th smallest p (k = 10) is below 0.7, so pixels with p > 0.7 drop.
    ohem_case(out, "thr", logits, target, 0.7, 10,
              expect=lambda v, k, kth: kth < 0.7 and k < v)
    # Too few valid pixels for min_kept: plain CE over all of them.
    ohem_case(out, "few", logits, target, 0.7, 1000, expect=lambda v, k, kth: k == v)
    # min_kept = 0: the original computes a threshold but never applies it: plain CE.
    ohem_case(out, "zero", logits, target, 0.7, 0, expect=lambda v, k, kth: k == v)
    # Confident logits: the min_kept branch raises the threshold above 0.7.
    confident = torch.randn(2, 6, 7, 5, generator=gen) * 4
    confident_t = confident.argmax(-1)
    flip = torch.rand(2, 6, 7, generator=gen) < 0.2  # some hard pixels
    confident_t[flip] = torch.randint(0, 5, (int(flip.sum()),), generator=gen)
    confident_t[torch.rand(2, 6, 7, generator=gen) < 0.1] = IGNORE
    num_valid = int((confident_t != IGNORE).sum())
    ohem_case(out, "kept", confident, confident_t, 0.7, num_valid - 20,
              expect=lambda v, k, kth: kth > 0.7 and k == v - 20)
    # min_kept at num_valid - 1 and at num_valid (k-th = the largest valid p, not an ignored 1).
    ohem_case(out, "edge", confident, confident_t, 0.7, num_valid - 1,
              expect=lambda v, k, kth: k == v - 1)
    ohem_case(out, "all", confident, confident_t, 0.7, num_valid,
              expect=lambda v, k, kth: k == v)
    # Ties: 4 distinct pixel rows repeated 5 times each; the k-th value (k = 7) falls inside the
    # second tie group, so all 10 pixels of the first two groups are kept (more than min_kept).
    rows = torch.tensor([[3.0, 0.0, 0.0], [2.0, 0.5, 0.0], [4.0, -1.0, 0.0], [5.0, 1.0, 0.0]])
    order = torch.randperm(20, generator=gen) % 4
    tie_logits = rows[order].reshape(1, 4, 5, 3)
    tie_target = torch.zeros(1, 4, 5, dtype=torch.long)
    ohem_case(out, "ties", tie_logits, tie_target, 0.7, 7,
              expect=lambda v, k, kth: k == 10)
    # Class weights (U2PL's use_weight): weighted mean over the kept pixels; 19 classes.
    wl = torch.randn(1, 8, 9, 19, generator=gen) * 4
    wt = labels(gen, (1, 8, 9), 19, 0.1)
    weight = torch.rand(19, generator=gen) + 0.5
    out["ohem_weighted_weight"] = weight
    ohem_case(out, "weighted", wl, wt, 0.7, 5, weight=weight,
              expect=lambda v, k, kth: k < v)


def criterion_cases(gen, out):
    # CE on (2, 4, 5, 6) logits upsampled to (9, 13) labels, align_corners=True.
    main = torch.randn(2, 4, 5, 6, generator=gen) * 2
    aux = torch.randn(2, 4, 5, 6, generator=gen) * 2
    target = labels(gen, (2, 9, 13), 6, 0.1)
    out.update(crit_main=main, crit_aux=aux, crit_target=target.int())

    def up(x):
        return F.interpolate(x, size=(9, 13), mode="bilinear", align_corners=True)

    # OHEM's min_kept: the first k >= 200 (of 213 valid pixels) whose k-th value is above 0.7 in
    # the main head (the min_kept branch) and well separated in both heads.
    probs = [target_probs(up(nchw(h)), target) for h in (main, aux)]
    min_kept = next(k for k in range(200, 213)
                    if all(margins_ok(p, [0.7, p.sort().values[k - 1].item()]) for p in probs)
                    and probs[0].sort().values[k - 1] > 0.7)
    out["seg_ohem_min_kept"] = torch.tensor([min_kept], dtype=torch.int32)
    print(f"seg_ohem: min_kept {min_kept}, valid {probs[0].numel()}, kth main "
          f"{probs[0].sort().values[min_kept - 1]:.4f} aux {probs[1].sort().values[min_kept - 1]:.4f}")

    m = nchw(main).requires_grad_(True)
    loss = F.cross_entropy(up(m), target, ignore_index=IGNORE)
    loss.backward()
    out.update(ce2d_loss=loss, ce2d_dx=nhwc(m.grad))
    # U2PL Criterion with aux: CE(main) + 0.4 CE(aux), both at the label size.
    for kind in ("ce", "ohem"):
        m, a = nchw(main).requires_grad_(True), nchw(aux).requires_grad_(True)
        if kind == "ce":
            loss = (F.cross_entropy(up(m), target, ignore_index=IGNORE)
                    + 0.4 * F.cross_entropy(up(a), target, ignore_index=IGNORE))
        else:  # CriterionOhem: one OHEM per head, thresh 0.7, the same min_kept for both
            lm, km = u2pl_ohem(up(m), target, 0.7, min_kept)
            la, ka = u2pl_ohem(up(a), target, 0.7, min_kept)
            print(f"seg_ohem kept: main {int((km != IGNORE).sum())} aux {int((ka != IGNORE).sum())}")
            loss = lm + 0.4 * la
        loss.backward()
        out[f"seg_{kind}_loss"] = loss
        out[f"seg_{kind}_dmain"] = nhwc(m.grad)
        out[f"seg_{kind}_daux"] = nhwc(a.grad)


def bce_cases(gen, out):
    # AdvSemiSeg's BCEWithLogitsLoss2d on D's (N, 1, H, W) output against make_D_label(value,
    # ignore_mask): pixels whose label is 255 are dropped, mean over the rest.
    d = torch.randn(2, 5, 6, 1, generator=gen) * 3
    lab = labels(gen, (2, 5, 6), 21, 0.2)
    out.update(bce_d=d, bce_labels=lab.int())
    for value in (0.0, 1.0):
        x = nchw(d).requires_grad_(True)
        d_label = torch.full((2, 1, 5, 6), value)
        d_label[(lab == IGNORE)[:, None]] = IGNORE
        mask = (d_label >= 0) & (d_label != IGNORE)
        loss = F.binary_cross_entropy_with_logits(x[mask], d_label[mask])
        loss.backward()
        out[f"bce_{int(value)}_loss"] = loss
        out[f"bce_{int(value)}_dx"] = nhwc(x.grad)
        # Without a mask (unlabeled images): every pixel counts.
        x = nchw(d).requires_grad_(True)
        loss = F.binary_cross_entropy_with_logits(x, torch.full_like(x, value))
        loss.backward()
        out[f"bce_{int(value)}_all_loss"] = loss
        out[f"bce_{int(value)}_all_dx"] = nhwc(x.grad)


def multilabel_cases(gen, out):
    # (4, 20) tags (VOC foreground classes), one row with |x| = 50 (stability).
    x = torch.randn(4, 20, generator=gen) * 3
    x[2, :4] = torch.tensor([50.0, -50.0, 30.0, -30.0])
    t = (torch.rand(4, 20, generator=gen) < 0.3).float()
    t[2, :4] = torch.tensor([0.0, 1.0, 1.0, 0.0])
    dloss = torch.randn(4, generator=gen)
    out.update(mlsm_x=x, mlsm_t=t, mlsm_dloss=dloss)
    for reduction in ("mean", "sum", "none"):
        xl = x.clone().requires_grad_(True)
        loss = torch.nn.MultiLabelSoftMarginLoss(reduction=reduction)(xl, t)
        (loss * dloss).sum().backward() if reduction == "none" else loss.backward()
        out[f"mlsm_{reduction}"], out[f"mlsm_{reduction}_dx"] = loss, xl.grad


def main():
    gen = torch.Generator().manual_seed(20240612)
    out = {}
    ohem_cases(gen, out)
    criterion_cases(gen, out)
    bce_cases(gen, out)
    multilabel_cases(gen, out)
    save("nn_losses.safetensors", out)


if __name__ == "__main__":
    main()
