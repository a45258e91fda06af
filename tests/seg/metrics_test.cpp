// Confusion matrix and IoU against values computed by hand, ignore handling, absent classes,
// merging, and errors for out-of-range labels.
#include <cmath>

#include "seg/metrics.h"
#include "tensor/error.h"
#include "tests/common/test_util.h"

namespace pg::seg {
namespace {

TEST(Metrics, IouByHand) {
    // 3 classes. truth / prediction over 8 pixels (one ignored):
    //   class 0: truth at 0,1,2; predicted at 0,1,5 -> TP 2, FN 1, FP 1 -> 2 / 4
    //   class 1: truth at 3,4,5; predicted at 2,3,4,6 -> TP 2, FN 1, FP 2 -> 2 / 5
    //   class 2: truth at 6;     predicted nowhere     -> 0 / 1
    ConfusionMatrix m(3);
    m.add(std::vector<int32_t>{0, 0, 1, 1, 1, 0, 1, 2},
          std::vector<int32_t>{0, 0, 0, 1, 1, 1, 2, 255});
    EXPECT_EQ(m.count(0, 0), 2);
    EXPECT_EQ(m.count(0, 1), 1);
    EXPECT_EQ(m.count(1, 0), 1);
    EXPECT_EQ(m.count(2, 1), 1);
    std::vector<double> iou = m.iou();
    EXPECT_DOUBLE_EQ(iou[0], 0.5);
    EXPECT_DOUBLE_EQ(iou[1], 0.4);
    EXPECT_DOUBLE_EQ(iou[2], 0.0);
    EXPECT_DOUBLE_EQ(m.mean_iou(), 0.3);
    EXPECT_DOUBLE_EQ(m.pixel_accuracy(), 4.0 / 7.0);
}

TEST(Metrics, AbsentClassIsLeftOutOfTheMeanAndMergeAdds) {
    ConfusionMatrix a(4), b(4);
    a.add(Tensor::from_vector(std::vector<int32_t>{0, 1}, {1, 2}),
          Tensor::from_vector(std::vector<int32_t>{0, 1}, {1, 2}));
    EXPECT_TRUE(std::isnan(a.iou()[3]));
    EXPECT_DOUBLE_EQ(a.mean_iou(), 1.0); // classes 2 and 3 never occur
    b.add(std::vector<int32_t>{2}, std::vector<int32_t>{3});
    a.merge(b);
    EXPECT_DOUBLE_EQ(a.iou()[2], 0.0);
    EXPECT_DOUBLE_EQ(a.mean_iou(), 0.5); // (1 + 1 + 0 + 0) / 4
    EXPECT_NE(a.to_json({"bg", "a", "b", "c"}).find("\"miou\":0.5"), std::string::npos);
}

TEST(Metrics, OutOfRangeValuesAreErrors) {
    ConfusionMatrix m(3);
    EXPECT_THROW(m.add(std::vector<int32_t>{0}, std::vector<int32_t>{7}), Error);
    EXPECT_THROW(m.add(std::vector<int32_t>{5}, std::vector<int32_t>{1}), Error);
    EXPECT_THROW(m.add(std::vector<int32_t>{0, 1}, std::vector<int32_t>{1}), Error);
    EXPECT_NO_THROW(m.add(std::vector<int32_t>{9}, std::vector<int32_t>{255})); // ignored pixel
}

} // namespace
} // namespace pg::seg
