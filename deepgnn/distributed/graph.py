r"""One rank's rows of :math:`\hat A`, whose products fetch the halo rows from the other ranks."""

from __future__ import annotations

import hashlib
import warnings
from typing import Any, NoReturn

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from deepgnn._checks import check_device
from deepgnn._spmm import CSR, Plan, act_grad, plan_for, symmetric_spmm
from deepgnn._typing import Device
from deepgnn.distributed.partition import Partition
from deepgnn.graph import Graph

__all__ = ["DistributedGraph", "check_model"]


def _sparse_csr(m: sp.csr_array, device: torch.device, dtype: torch.dtype) -> Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)).to(device),
            torch.from_numpy(m.indices.astype(np.int64)).to(device),
            torch.from_numpy(m.data).to(device=device, dtype=dtype),
            size=m.shape,
            check_invariants=False,  # sorted and in range: sliced from a sorted CSR
        )


# Norms whose statistics run over all nodes: on one rank's rows they would be other numbers.
_NODE_STATISTIC_NORMS = ("batch", "pair")


def check_model(model: nn.Module) -> nn.Module:
    """Raise when ``model`` would compute something else on a :class:`DistributedGraph`.

    A rank sees only its rows, so a model runs there unchanged when every cross-node step is a
    ``graph.spmm``. Refused: ``norm="batch"`` and ``norm="pair"`` (statistics over all
    nodes), ``backend="dgl"`` and families that read ``graph.coo()`` (``gat``). Dropout is
    allowed: each rank draws its own masks, so a step equals one on one device only with
    ``dropout=0`` (or in ``eval()``).

    A model's ``forward`` on a :class:`DistributedGraph` calls it (through
    :meth:`DistributedGraph.check_model`), so a refused model never runs there.

    Returns:
        ``model``.

    Raises:
        ValueError: one of the settings above, naming the fix.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    norm = getattr(model, "norm", None)
    if norm in _NODE_STATISTIC_NORMS:
        raise ValueError(
            f"model has norm={norm!r}, whose statistics run over all nodes, but each rank sees "
            "only its rows; build it with norm=None, 'layer' or 'node' to train it distributed"
        )
    if getattr(model, "backend", "torch") != "torch":
        raise ValueError(
            f"model has backend={model.backend!r}; DistributedGraph runs backend='torch' models"
        )
    if getattr(model, "family", "") == "gat":
        raise ValueError(
            "family 'gat' reads graph.coo() for its attention, which a rank's rows do not give; "
            "use gcn, resgcn, gated_resgcn or rezero"
        )
    return model


class DistributedGraph(Graph):
    r"""Rank ``r``'s rows of :math:`\hat A`, usable wherever a model takes a :class:`Graph`.

    Rank ``r`` owns the rows ``partition.nodes(r)``: node features, hidden states, labels and
    masks are ``(num_nodes, ...)`` tensors of *those* rows (:meth:`local` cuts them out of a
    whole-graph tensor). Its rows of :math:`\hat A` are stored with the columns renumbered
    ``[own rows, then halo rows]`` and split in two blocks,

    .. math::
        (\hat A X)_{\mathrm{own}} = \hat A_{\mathrm{own,own}} X_{\mathrm{own}}
            + \hat A_{\mathrm{own,halo}} X_{\mathrm{halo}},

    where the halo rows are the other ranks' rows that these rows have a nonzero in.
    :meth:`spmm` starts an ``all_to_all_single`` that sends the rows the other ranks need and
    receives the halo, multiplies the square block (a principal submatrix of the symmetric
    :math:`\hat A`, so deepgnn's symmetric kernel runs it) while the exchange is in flight,
    then adds the halo block's product. The backward mirrors it: the gradient of the halo,
    :math:`\hat A_{\mathrm{own,halo}}^\top G'`, goes back to the ranks that own those rows,
    which add it into their own rows' gradient, while the square block's gradient
    :math:`\hat A_{\mathrm{own,own}} G'` is computed (the halo pattern reverses: what was
    received is sent).

    Every rank must call :meth:`spmm` (and run the backward) the same number of times with the
    same widths, as for any collective. Models that use the graph only through ``spmm`` run
    unchanged (``gcn``, ``resgcn``, ``gated_resgcn``, ``rezero`` with ``norm`` ``None``,
    ``"layer"`` or ``"node"``; see :func:`~deepgnn.distributed.check_model`); the whole-graph
    accessors (``coo``, ``edge_index``, ``to_dgl``, ...) raise.

    Args:
        graph: the whole graph, the same on every rank.
        partition: the same :class:`~deepgnn.distributed.Partition` on every rank, made for
            ``graph`` and the group's size.
        group: the process group (default: the world group of ``init_process_group``).
        device: where this rank's rows and products live (default ``graph.device``); with the
            ``nccl`` backend a CUDA device, e.g. ``f"cuda:{local_rank}"``.

    Raises:
        RuntimeError: ``torch.distributed`` is not initialized.
        ValueError: the partition is for another world size or graph, the ranks hold different
            partitions, or ``nccl`` with a CPU device.

    Shapes:
        ``spmm(x)``: ``x`` ``(num_nodes, d)`` (this rank's rows) -> ``(num_nodes, d)``.
    """

    def __init__(
        self,
        graph: Graph,
        partition: Partition,
        *,
        group: dist.ProcessGroup | None = None,
        device: Device | None = None,
    ) -> None:
        if not isinstance(graph, Graph) or isinstance(graph, DistributedGraph):
            raise TypeError(
                f"graph must be the whole deepgnn.Graph, got {type(graph).__name__}; every rank "
                "builds or loads the whole graph and keeps its rows"
            )
        if not isinstance(partition, Partition):
            raise TypeError(
                f"partition must be a deepgnn.distributed.Partition, got "
                f"{type(partition).__name__}; make one with "
                "deepgnn.distributed.partition(graph, world_size)"
            )
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError(
                "DistributedGraph needs torch.distributed: call "
                "torch.distributed.init_process_group('gloo' or 'nccl', ...) in every process first"
            )
        world_size = dist.get_world_size(group)
        rank = dist.get_rank(group)
        if partition.world_size != world_size:
            raise ValueError(
                f"partition has world_size={partition.world_size}, but the process group has "
                f"{world_size} ranks; make it with partition(graph, {world_size}, method=...)"
            )
        adj = graph.to_scipy()
        if (partition.num_nodes, partition.nnz) != (graph.num_nodes, adj.nnz):
            raise ValueError(
                f"partition was made for a graph with {partition.num_nodes} nodes and "
                f"{partition.nnz} nonzeros, but graph has {graph.num_nodes} and "
                f"{adj.nnz}; make it with partition(graph, {world_size}) on this graph"
            )
        device = torch.empty(
            0, device=check_device("device", graph.device if device is None else device)
        ).device
        backend = str(dist.get_backend(group))
        if backend == "nccl" and device.type != "cuda":
            raise ValueError(
                f"the nccl backend exchanges CUDA tensors, but device={str(device)!r}; pass "
                "device=f'cuda:{local_rank}' (or use the gloo backend on the CPU)"
            )
        self.group = group
        self.rank = rank
        self.world_size = world_size
        self.partition = partition
        self.backend = backend
        self.device = device
        self.global_num_nodes = graph.num_nodes
        self._check_same_partition(partition)
        self._check_same_graph(adj)

        a = partition.assignment
        nodes = partition.nodes(rank)
        rows = adj[nodes]  # this rank's rows, global column ids
        cols = rows.indices.astype(np.int64)
        owner = a[cols]
        # The halo, grouped by owner rank (the order all_to_all_single receives it in), each
        # group in ascending global id (the order the owner sends it in: see send below).
        foreign = np.unique(cols[owner != rank])
        halo_owner = a[foreign]
        by_owner = np.argsort(halo_owner, kind="stable")
        halo = foreign[by_owner]
        recv_counts = np.bincount(halo_owner, minlength=world_size)
        local = np.full(graph.num_nodes, -1, dtype=np.int64)
        local[nodes] = np.arange(nodes.shape[0])
        local[halo] = nodes.shape[0] + np.arange(halo.shape[0])
        block = sp.csr_array(
            (rows.data, local[cols], rows.indptr),
            shape=(nodes.shape[0], nodes.shape[0] + halo.shape[0]),
        )
        block.sort_indices()
        n_own = nodes.shape[0]
        # Row i of ours goes to rank t when it has a nonzero in t's rows: by symmetry of Â,
        # exactly when t's rows have a nonzero in column i, i.e. when i is in t's halo.
        row_of = np.repeat(np.arange(n_own, dtype=np.int64), np.diff(rows.indptr))
        foreign_nz = owner != rank
        pairs = np.unique(owner[foreign_nz] * n_own + row_of[foreign_nz])
        send_idx = pairs % n_own  # grouped by destination rank, ascending ids within a group
        send_counts = np.bincount(pairs // n_own, minlength=world_size)

        self.num_nodes = n_own
        self.nodes = torch.from_numpy(nodes)
        self.halo_nodes = torch.from_numpy(halo)
        self.send_counts: list[int] = send_counts.tolist()
        self.recv_counts: list[int] = recv_counts.tolist()
        self._send_idx_cpu = torch.from_numpy(send_idx)
        self._own = block[:, :n_own].tocsr()
        self._own.sort_indices()
        self._halo_block = block[:, n_own:].tocsr()
        self._halo_block.sort_indices()
        self._halo_block_t = self._halo_block.T.tocsr()
        self._halo_block_t.sort_indices()
        self._degree_local = graph.degree.cpu()[self.nodes]
        self._setup_device()

    def _check_same_partition(self, partition: Partition) -> None:
        mine = partition.checksum()
        sums = torch.tensor([mine, -mine], dtype=torch.int64, device=self._comm_device())
        dist.all_reduce(sums, op=dist.ReduceOp.MAX, group=self.group)
        if int(sums[0]) != mine or int(sums[1]) != -mine:
            raise ValueError(
                f"the ranks hold different partitions (rank {self.rank}'s checksum is {mine}); "
                "partition the same graph with the same world_size, method and seed on every "
                "rank, or make it on rank 0 and broadcast the assignment "
                "(Partition.from_assignment)"
            )

    def _check_same_graph(self, adj: sp.csr_array) -> None:
        r"""Compare a fingerprint of the whole :math:`\hat A` across the ranks: graphs of the
        same size give the same partition table, so the partition check alone passes them."""
        digest = hashlib.blake2b(digest_size=8)
        for a in (adj.indptr.astype(np.int64), adj.indices.astype(np.int64), adj.data):
            digest.update(np.ascontiguousarray(a).tobytes())
        mine = int.from_bytes(digest.digest(), "little") >> 1
        sums = torch.tensor([mine, -mine], dtype=torch.int64, device=self._comm_device())
        dist.all_reduce(sums, op=dist.ReduceOp.MAX, group=self.group)
        if int(sums[0]) != mine or int(sums[1]) != -mine:
            raise ValueError(
                f"the ranks hold different graphs of {self.global_num_nodes} nodes (rank "
                f"{self.rank}'s fingerprint of Â is {mine}); every rank must load or build the "
                "same whole graph, with the same edges in the same node order"
            )

    def _comm_device(self) -> torch.device:
        return self.device if self.backend == "nccl" else torch.device("cpu")

    def _setup_device(self) -> None:
        self._send_idx = self._send_idx_cpu.to(self.device)
        self._operands: dict[torch.dtype, tuple[CSR, Tensor, Tensor]] = {}
        self._plan = None
        self._kernel_plan()  # chosen once per device, from the own block's row lengths
        self._traffic = {
            "forward_exchanges": 0,
            "forward_bytes_sent": 0,
            "forward_bytes_received": 0,
            "backward_exchanges": 0,
            "backward_bytes_sent": 0,
            "backward_bytes_received": 0,
        }

    def _kernel_plan(self) -> Plan:
        if self._plan is None:
            self._plan = plan_for(np.diff(self._own.indptr), self.device)
        return self._plan

    def _operand(self, dtype: torch.dtype) -> tuple[CSR, Tensor, Tensor]:
        """The own block as the symmetric kernels take it, the halo block and its transpose."""
        ops = self._operands.get(dtype)
        if ops is None:
            m, dev, plan = self._own, self.device, self._kernel_plan()
            small = m.nnz < 2**31
            crow = torch.from_numpy(m.indptr.astype(np.int32 if small else np.int64)).to(dev)
            col = torch.from_numpy(m.indices.astype(np.int32)).to(dev)
            val32 = torch.from_numpy(m.data).to(device=dev, dtype=torch.float32)
            split: dict[str, Any] = {}
            if plan.path == "split":
                for name in ("seg_ptr", "seg_tgt", "long_rows", "long_ptr"):
                    split[name] = torch.from_numpy(getattr(plan, name)).to(crow.dtype).to(dev)
                split["slots"] = plan.slots
            own = CSR(_sparse_csr(m, dev, dtype), crow, col, val32, plan.path, **split)
            halo = _sparse_csr(self._halo_block, dev, dtype)
            ops = (own, halo, _sparse_csr(self._halo_block_t, dev, dtype))
            self._operands[dtype] = ops
        return ops

    # ------------------------------------------------------------------- products
    def spmm(
        self, x: Tensor, *, bias: Tensor | None = None, activation: str = "identity"
    ) -> Tensor:
        r"""Return this rank's rows of :math:`\sigma(\hat A X + b)`, fetching the halo of ``x``.

        A collective: every rank of the group calls it, with ``x`` of the same width.

        Args:
            x: this rank's rows of :math:`X`, shape ``(num_nodes,)`` or ``(num_nodes, d)``, on
                :attr:`~deepgnn.Graph.device`.
            bias: optional ``(d,)`` tensor added to every row.
            activation: ``"identity"``, ``"tanh"`` or ``"relu"``.

        Returns:
            A tensor with the shape and dtype of ``x``.
        """
        return super().spmm(x, bias=bias, activation=activation)

    def _rows_hint(self) -> str:
        """What ``x`` holds: this rank's rows."""
        return (
            f"x must hold rank {self.rank}'s rows, shape (num_nodes={self.num_nodes}, d) or "
            f"({self.num_nodes},); cut a whole-graph tensor with graph.local(x)"
        )

    def _product(self, x2: Tensor, bias: Tensor | None, activation: str) -> Tensor:
        r"""The rows of :math:`\sigma(\hat A x + b)` this rank holds, with the halo exchange."""
        out: Tensor = _HaloSpMM.apply(x2, bias, activation, self)
        return out

    def _exchange(self, send: Tensor, out_rows: int, direction: str, *, reverse: bool) -> Any:
        """Start the all-to-all of ``send`` (rows grouped by destination); return (buffer, work)."""
        recv = send.new_empty(out_rows, send.shape[1])
        if self.world_size == 1:
            return recv, None
        out_split, in_split = self.recv_counts, self.send_counts
        if reverse:
            out_split, in_split = in_split, out_split
        t = self._traffic
        t[f"{direction}_exchanges"] += 1
        t[f"{direction}_bytes_sent"] += send.numel() * send.element_size()
        t[f"{direction}_bytes_received"] += recv.numel() * recv.element_size()
        work = dist.all_to_all_single(
            recv, send, out_split, in_split, group=self.group, async_op=True
        )
        return recv, work

    # -------------------------------------------------------------- rank's rows
    def local(self, t: Tensor) -> Tensor:
        """Return this rank's rows of a whole-graph tensor ``t`` ``(global_num_nodes, ...)``, on
        :attr:`~deepgnn.Graph.device`."""
        if not isinstance(t, Tensor):
            raise TypeError(f"t must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() == 0 or t.shape[0] != self.global_num_nodes:
            raise ValueError(
                f"t must have one row per node of the whole graph, shape "
                f"(global_num_nodes={self.global_num_nodes}, ...), got {tuple(t.shape)}"
            )
        return t[self.nodes.to(t.device)].to(self.device)

    def gather(self, t: Tensor) -> Tensor:
        """Return the whole-graph tensor ``(global_num_nodes, ...)`` from every rank's rows ``t``.

        A collective (``all_gather``): every rank calls it and gets the same result.
        """
        if not isinstance(t, Tensor) or t.dim() == 0 or t.shape[0] != self.num_nodes:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"t must hold rank {self.rank}'s rows, shape (num_nodes={self.num_nodes}, ...), "
                f"got {shape}"
            )
        dev = self._comm_device()
        counts = np.bincount(self.partition.assignment, minlength=self.world_size)
        most = int(counts.max())
        padded = t.new_zeros((most, *t.shape[1:]), device=dev)
        padded[: self.num_nodes] = t.detach().to(dev)
        chunks = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(chunks, padded, group=self.group)
        out = t.new_empty((self.global_num_nodes, *t.shape[1:]), device=dev)
        order = torch.from_numpy(np.argsort(self.partition.assignment, kind="stable")).to(dev)
        out[order] = torch.cat([c[:k] for c, k in zip(chunks, counts.tolist())])
        return out.to(t.device)

    def sum(self, t: Tensor) -> Tensor:
        """Return the sum of ``t`` over the ranks (an ``all_reduce`` of a detached copy), e.g. the
        whole loss from each rank's share, or a global count of correct predictions."""
        if not isinstance(t, Tensor):
            raise TypeError(f"t must be a torch.Tensor, got {type(t).__name__}")
        out = t.detach().to(self._comm_device(), copy=True)
        dist.all_reduce(out, group=self.group)
        return out.to(t.device)

    def traffic(self) -> dict[str, int]:
        """Return the exchanges made and the bytes this rank sent and received, forward and
        backward, since construction or :meth:`reset_traffic`."""
        return dict(self._traffic)

    def reset_traffic(self) -> None:
        """Zero the counters of :meth:`traffic`."""
        for key in self._traffic:
            self._traffic[key] = 0

    @property
    def degree(self) -> Tensor:
        """Degrees in :math:`A + I` of this rank's rows (float64), shape ``(num_nodes,)``."""
        return self._degree_local.to(self.device)

    def to(self, device: Device) -> DistributedGraph:
        """Return this rank's rows on ``device`` (itself if already there)."""
        device = torch.empty(0, device=check_device("device", device)).device
        if device == self.device:
            return self
        if self.backend == "nccl" and device.type != "cuda":
            raise ValueError(
                f"the nccl backend exchanges CUDA tensors, but device={str(device)!r}; keep the "
                "graph on a CUDA device"
            )
        out = object.__new__(DistributedGraph)
        out.__dict__.update(self.__dict__)
        out.device = device
        out._setup_device()
        return out

    def kernel_info(self) -> dict[str, Any]:
        """Return how the own block's product runs on :attr:`~deepgnn.Graph.device` (see
        :meth:`Graph.kernel_info <deepgnn.Graph.kernel_info>`) and the halo: ``halo_rows``,
        ``send_rows``."""
        info = dict(self._kernel_plan().info)
        info["reasons"] = list(info["reasons"])
        info.update(
            device=str(self.device),
            rank=self.rank,
            halo_rows=int(sum(self.recv_counts)),
            send_rows=int(sum(self.send_counts)),
        )
        return info

    # ------------------------------------------------- what a rank's rows cannot give
    def _whole_graph_only(self, name: str) -> NoReturn:
        raise TypeError(
            f"DistributedGraph holds rank {self.rank}'s rows of Â only, so {name} is not "
            "available; models that use the graph only through graph.spmm (gcn, resgcn, "
            f"gated_resgcn, rezero) run on it; call {name} on the whole Graph instead"
        )

    @property
    def num_edges(self) -> int:
        """Raise :class:`TypeError`: the edge count is a whole-graph quantity."""
        self._whole_graph_only("num_edges")

    @property
    def edge_index(self) -> Tensor:
        r"""Raise :class:`TypeError`: a rank holds its rows of :math:`\hat A`, not the edge list."""
        self._whole_graph_only("edge_index")

    @property
    def edge_weight(self) -> Tensor:
        r"""Raise :class:`TypeError`: a rank holds its rows of :math:`\hat A`, not the edge list."""
        self._whole_graph_only("edge_weight")

    def to_scipy(self) -> sp.csr_array:
        r"""Raise :class:`TypeError`: the whole :math:`\hat A` lives on no single rank."""
        self._whole_graph_only("to_scipy()")

    def adjacency(self, dtype: torch.dtype = torch.float32) -> Tensor:
        r"""Raise :class:`TypeError`: the whole :math:`\hat A` lives on no single rank."""
        self._whole_graph_only("adjacency()")

    def coo(self) -> tuple[Tensor, Tensor]:
        r"""Raise :class:`TypeError`: the whole :math:`\hat A` lives on no single rank."""
        self._whole_graph_only("coo() (attention models such as gat need it)")

    def to_dgl(self) -> Any:
        """Raise :class:`TypeError`: a DGL graph needs the whole edge list."""
        self._whole_graph_only("to_dgl() (backend='dgl' needs it)")

    def drop_edges(self, p: float, *, generator: torch.Generator | None = None) -> NoReturn:
        r"""Raise :class:`TypeError`: DropEdge on a rank's rows would drop an edge on one side
        only (the ranks draw apart), and :math:`\hat A` would stop being symmetric."""
        raise TypeError(
            f"DistributedGraph holds rank {self.rank}'s rows of Â, and DropEdge on them would "
            "drop an edge on one rank but keep it on the other, leaving Â unsymmetric; train "
            "without drop_edge on a DistributedGraph, or use DropEdge on the whole Graph on one "
            "device"
        )

    def check_model(self, model: Any) -> None:
        """Raise what :func:`check_model` raises: ``model`` would compute something else on a
        rank's rows than on the whole graph."""
        check_model(model)

    def __repr__(self) -> str:
        return (
            f"DistributedGraph(rank={self.rank}, world_size={self.world_size}, "
            f"num_nodes={self.num_nodes}, global_num_nodes={self.global_num_nodes}, "
            f"halo_rows={sum(self.recv_counts)}, send_rows={sum(self.send_counts)}, "
            f"device={self.device})"
        )


class _HaloSpMM(torch.autograd.Function):
    """``act(Â_own,own x + Â_own,halo halo(x) + b)``; the backward returns the halo's gradient
    to the ranks that own those rows."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, bias: Tensor | None, activation: str, graph: DistributedGraph
    ) -> Tensor:
        own, halo_block, _ = graph._operand(x.dtype)
        recv, work = graph._exchange(
            x.index_select(0, graph._send_idx),
            halo_block.shape[1],
            "forward",
            reverse=False,
        )
        out = symmetric_spmm(own, x, bias, "identity")  # overlaps the exchange
        if work is not None:
            work.wait()
        if recv.shape[0]:
            out.add_(torch.sparse.mm(halo_block, recv))
        if activation == "tanh":
            out.tanh_()
        elif activation == "relu":
            out.relu_()
        ctx.graph = graph
        ctx.activation = activation
        ctx.has_bias = bias is not None
        ctx.bias_dtype = None if bias is None else bias.dtype
        if activation != "identity":
            ctx.save_for_backward(out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        graph: DistributedGraph = ctx.graph
        y = ctx.saved_tensors[0] if ctx.activation != "identity" else None
        g = act_grad(grad.contiguous(), y, ctx.activation)
        grad_b = g.sum(0).to(ctx.bias_dtype) if ctx.has_bias and ctx.needs_input_grad[1] else None
        if not ctx.needs_input_grad[0]:
            return None, grad_b, None, None
        own, _, halo_block_t = graph._operand(g.dtype)
        # The halo rows' gradient goes back to their owners: the forward's exchange reversed.
        halo_grad = torch.sparse.mm(halo_block_t, g) if halo_block_t.shape[0] else None
        if halo_grad is None:
            halo_grad = g.new_zeros(0, g.shape[1])
        back, work = graph._exchange(halo_grad, graph._send_idx.shape[0], "backward", reverse=True)
        grad_x = symmetric_spmm(own, g)  # Â_own,own is symmetric: the forward's kernel
        if work is not None:
            work.wait()
        if back.shape[0]:
            grad_x.index_add_(0, graph._send_idx, back)
        return grad_x, grad_b, None, None
