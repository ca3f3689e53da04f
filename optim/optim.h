// Everything in optim/: optimizers, gradient clipping, learning-rate schedulers, loss scaler.
#pragma once
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "optim/grad_scaler.h"
#include "optim/one_cycle_lr.h"
#include "optim/optimizer.h"
#include "optim/reduce_lr_on_plateau.h"
#include "optim/rmsprop.h"
#include "optim/schedulers.h"
#include "optim/sequential_lr.h"
#include "optim/sgd.h"
