// Every op of pixelgrad in one include: tensor ops with autograd, the backward engine, no_grad.
#pragma once

#include "autograd/batch_norm.h"
#include "autograd/conv.h"
#include "autograd/elementwise.h"
#include "autograd/engine.h"
#include "autograd/index.h"
#include "autograd/inplace.h"
#include "autograd/layout.h"
#include "autograd/linear.h"
#include "autograd/loss.h"
#include "autograd/node.h"
#include "autograd/pool.h"
#include "autograd/random.h"
#include "autograd/reduce.h"
#include "autograd/resize.h"
#include "autograd/softmax.h"
#include "tensor/tensor.h"
