"""The training step's BiLSTM against the machine's limit. The arithmetic of a BiLSTM's matrix products over a
batch of B sentences padded to length T is, per direction and layer (input width D_in: the token features for
layer 0, 2H above), forward 2·B·T·4H·D_in (input projection) + 2·B·T·4H·H (recurrent products, T of them), and
the backward twice that (the gradients of the inputs and of the weights, each a product of the same size), so

    FLOPs(batch) = Σ_layers 2 directions · 3 · (2·B·T·4H·D_in + 2·B·T·4H·H).

B·T is the padded grid, not the real tokens: it is what the LSTM computes (on CPU the BiLSTM runs unpacked over
the padding, models/bilstm.py; on CUDA, cuDNN's packed LSTM skips the padding, so there the rate is overstated).
The gates' element-wise arithmetic is not counted. The BiLSTM alone (forward + backward on the joint step's
batches) gives the achieved rate; the same products as plain dense matrix products (torch.mm / addmm on
preallocated operands: the input projection and its two gradients once, the recurrent product and its two
gradients T times) give the machine's rate for those shapes, measured in the same run."""
from typing import Callable

import torch
from torch import nn

from utils.data.batching import Batch

GATES = 4  # an LSTM's input, forget, cell and output gates: the products are 4H wide


def lstm_flops(batch: int, length: int, input_dim: int, hidden: int, n_layer: int) -> int:
    """Forward + backward FLOPs of a BiLSTM's matrix products over a [batch, length] padded grid."""
    total = 0
    for layer in range(n_layer):
        d_in = input_dim if layer == 0 else 2 * hidden
        forward = 2 * batch * length * GATES * hidden * d_in + 2 * batch * length * GATES * hidden * hidden
        total += 2 * 3 * forward
    return total


def batches_flops(batches: list[Batch], input_dim: int, hidden: int, n_layer: int) -> int:
    """lstm_flops summed over the batches, each on its own padded grid."""
    return sum(lstm_flops(b.words.size(0), b.words.size(1), input_dim, hidden, n_layer) for b in batches)


def bilstm_alone(model: nn.Module, batches: list[Batch]) -> Callable[[], None]:
    """The model's BiLSTM forward + backward (the gradient of its inputs too, as in a training step) on the
    batches' token features, computed once beforehand without gradients."""
    model.train()
    with torch.no_grad():
        inputs = [model.embed(b.words) for b in batches]

    def run() -> None:
        for x, b in zip(inputs, batches):
            model.zero_grad(set_to_none=True)
            model.lstm(x.detach().requires_grad_(), b.seq_len)[0].sum().backward()
    return run


class _LayerProducts:
    """Preallocated operands of one layer's products, sized for the largest padded grid of the batches."""

    def __init__(self, rows: int, d_in: int, hidden: int, device: str) -> None:
        def rand(*shape: int) -> torch.Tensor:
            return 0.1 * torch.randn(*shape, device=device)

        self.hidden = hidden
        self.x, self.h = rand(rows, d_in), rand(rows, hidden)
        self.w_ih, self.w_hh = rand(GATES * hidden, d_in), rand(GATES * hidden, hidden)
        self.gates, self.dx = torch.empty(rows, GATES * hidden, device=device), torch.empty(rows, d_in, device=device)
        self.dw_ih, self.dw_hh = torch.zeros_like(self.w_ih), torch.zeros_like(self.w_hh)
        self.dh = torch.empty(0, hidden, device=device)

    def direction(self, batch: int, length: int) -> None:
        """One direction over a [batch, length] grid: forward, then the gradients of inputs and weights."""
        rows = batch * length
        x, gates = self.x[:rows], self.gates[:rows]
        steps, h = gates.view(length, batch, -1), self.h[:rows].view(length, batch, -1)
        if self.dh.size(0) != batch:
            self.dh = self.dh.new_empty(batch, self.hidden)
        torch.mm(x, self.w_ih.t(), out=gates)
        for t in range(length):
            steps[t].addmm_(h[t], self.w_hh.t())
        torch.mm(gates, self.w_ih, out=self.dx[:rows])
        torch.mm(gates.t(), x, out=self.dw_ih)
        for t in range(length):
            torch.mm(steps[t], self.w_hh, out=self.dh)
            self.dw_hh.addmm_(steps[t].t(), h[t])


def dense_products(batches: list[Batch], input_dim: int, hidden: int, n_layer: int,
                   device: str) -> Callable[[], None]:
    """The BiLSTM's matrix products on the batches' grids as plain dense products: exactly batches_flops of
    arithmetic, per batch both directions of every layer."""
    rows = max(b.words.numel() for b in batches)
    layers = [_LayerProducts(rows, input_dim if layer == 0 else 2 * hidden, hidden, device)
              for layer in range(n_layer)]
    shapes = [tuple(b.words.shape) for b in batches]

    def run() -> None:
        for batch, length in shapes:
            for products in layers:
                products.direction(batch, length)
                products.direction(batch, length)
    return run
