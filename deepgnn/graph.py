r"""The graph every deepgnn model runs on: the GCN-normalized adjacency :math:`\hat A` in CSR."""

from __future__ import annotations

import copy
import numbers
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from deepgnn._checks import check_device
from deepgnn._spmm import ACTIVATIONS as SPMM_ACTIVATIONS
from deepgnn._spmm import CSR, Plan, plan_for, sparse_dtype, symmetric_spmm
from deepgnn._typing import Device

if TYPE_CHECKING:  # pragma: no cover
    import dgl
    import networkx as nx

__all__ = ["INFER_LIMIT", "MAX_NODES", "Graph", "as_graph"]


#: The most nodes a graph may have: deepgnn's SpMM kernels index nodes with int32.
MAX_NODES = 2**31 - 1
#: Without ``num_nodes=``, a largest id at or above both of these is refused as a likely
#: mistake (ids that were never relabelled to 0..n-1, a stray huge number): ``max id + 1``
#: nodes would allocate ~100 bytes each (8 GiB at 10**8) for a graph that is almost all
#: isolated nodes. Passing ``num_nodes=`` explicitly accepts such a graph.
INFER_LIMIT = 10**7
INFER_FACTOR = 100


def _as_numpy(arg: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        if value.is_complex():
            return value.detach().cpu().resolve_conj().numpy()
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        try:
            return np.asarray(value)
        except (ValueError, TypeError):
            example = "torch.tensor([sources, targets]) of equal lengths"
            raise ValueError(
                f"{arg} is a ragged nested list (rows of different lengths); pass a rectangular "
                f"array such as {example if arg == 'edge_index' else 'a flat list of numbers'}"
            ) from None
    raise TypeError(
        f"{arg} must be a torch.Tensor or numpy array, got {type(value).__name__}; "
        f"wrap it with torch.as_tensor({arg})"
    )


class Graph:
    r"""An undirected graph stored as its GCN-normalized adjacency.

    Holds :math:`\hat A = D^{-1/2} (A + I) D^{-1/2}` in CSR, where :math:`A` is the
    symmetrized adjacency without self loops and :math:`D` the degree matrix of
    :math:`A + I` (Kipf & Welling, "Semi-Supervised Classification with Graph
    Convolutional Networks", ICLR 2017, eq. 2). Input is cleaned before
    normalization, and the rules are the same for every constructor:

    * directed input is symmetrized: an edge ``(i, j)`` also gives ``(j, i)``;
    * repeated edges (including ``(i, j)`` given along with ``(j, i)``) are kept once,
      with the largest of their weights;
    * self loops in the input are dropped, then every node gets a self loop of weight 1.

    Args:
        edge_index: node pairs, integer tensor or array of shape ``(2, num_edges)``.
        num_nodes: number of nodes, at most :data:`MAX_NODES` (:math:`2^{31} - 1`, the
            kernels' int32 ids); inferred as ``max id + 1`` when omitted, except that a
            largest id of at least :data:`INFER_LIMIT` (:math:`10^7`) and 100 times
            ``num_edges + 1`` is refused (the ids are most likely not relabelled to
            ``0..n-1``; pass ``num_nodes=`` to accept it).
        edge_weight: optional positive finite real weights, shape ``(num_edges,)``, whose sum
            at each node stays within the float64 range.

    Raises:
        ValueError: ids out of range or negative, float ids, wrong shape or a ragged list,
            NaN/inf or non-positive weights or degrees that overflow, a graph with no nodes
            or more than :data:`MAX_NODES`.
        TypeError: ``edge_index`` is neither a tensor nor an array, or ``edge_weight`` is
            complex, bool or not numeric.

    Attributes:
        num_nodes: the number of nodes.
        device: the device :meth:`to` moved the graph to (``cpu`` when built); the arrays
            the kernels read live there.

    Example:
        >>> import torch
        >>> g = Graph(torch.tensor([[0, 1], [1, 2]]))
        >>> g.num_nodes, g.num_edges
        (3, 2)
        >>> round(float(g.spmm(torch.ones(3, 1))[1, 0]), 4)  # 1/3 + 2 * 1/sqrt(6)
        1.1498
    """

    def __init__(
        self,
        edge_index: Tensor | np.ndarray,
        *,
        num_nodes: int | None = None,
        edge_weight: Tensor | np.ndarray | None = None,
    ) -> None:
        ei = _as_numpy("edge_index", edge_index)
        if ei.ndim != 2 or ei.shape[0] != 2:
            hint = (
                "; transpose an (E, 2) array with .T" if ei.ndim == 2 and ei.shape[1] == 2 else ""
            )
            raise ValueError(
                f"edge_index must have shape (2, num_edges), got {tuple(ei.shape)}{hint}"
            )
        if ei.dtype == np.bool_ or not np.issubdtype(ei.dtype, np.integer):
            raise ValueError(
                f"edge_index has dtype {ei.dtype}, but node ids must be integers; "
                "pass edge_index.long() (or .astype(np.int64))"
            )
        ei = ei.astype(np.int64, copy=False)
        if ei.size and ei.min() < 0:
            raise ValueError(
                f"edge_index contains the negative node id {int(ei.min())}; ids must be in [0, num_nodes)"
            )
        hi = int(ei.max()) if ei.size else -1
        if num_nodes is None:
            if hi < 0:
                raise ValueError(
                    "edge_index is empty, so num_nodes cannot be inferred; pass num_nodes="
                )
            if hi >= INFER_LIMIT and hi >= INFER_FACTOR * (ei.shape[1] + 1):
                raise ValueError(
                    f"edge_index refers to node {hi} with only {ei.shape[1]} edges, so the "
                    f"inferred num_nodes={hi + 1} would be almost all isolated nodes; relabel "
                    "the ids to 0..n-1 (np.unique(edge_index, return_inverse=True)) or pass "
                    f"num_nodes={hi + 1} if the graph really has that many nodes"
                )
            num_nodes = hi + 1
        if isinstance(num_nodes, bool) or not isinstance(num_nodes, (int, np.integer)):
            raise TypeError(
                f"num_nodes must be an int, got {type(num_nodes).__name__} {num_nodes!r}; pass "
                "e.g. num_nodes=int(edge_index.max()) + 1"
            )
        num_nodes = int(num_nodes)
        if num_nodes <= 0:
            raise ValueError(f"num_nodes={num_nodes}, but a graph needs at least one node")
        if num_nodes > MAX_NODES:
            raise ValueError(
                f"num_nodes={num_nodes} is more than the {MAX_NODES} (2**31 - 1) nodes that "
                "deepgnn's int32 node ids hold; relabel the ids to 0..n-1 or split the graph"
            )
        if hi >= num_nodes:
            raise ValueError(
                f"edge_index refers to node {hi}, but num_nodes={num_nodes}; "
                f"pass num_nodes={hi + 1} or drop the edges that leave the graph"
            )
        if edge_weight is None:
            w = np.ones(ei.shape[1], dtype=np.float64)
        else:
            w = _as_numpy("edge_weight", edge_weight)
            if w.dtype == np.bool_ or w.dtype.kind not in "iuf":
                raise TypeError(
                    f"edge_weight has dtype {w.dtype}, but weights are real numbers; pass "
                    "float weights (complex ones: edge_weight.abs() or .real, bool ones: "
                    "drop the False edges and pass edge_weight=None)"
                )
            w = w.astype(np.float64, copy=False)
            if w.shape != (ei.shape[1],):
                raise ValueError(
                    f"edge_weight must have shape ({ei.shape[1]},), one weight per edge_index "
                    f"column, got {tuple(w.shape)}"
                )
            if not np.isfinite(w).all():
                raise ValueError("edge_weight contains NaN or inf; drop or replace those edges")
            if (w <= 0).any():
                raise ValueError(
                    "edge_weight must be positive (GCN normalization divides by degree); "
                    "drop the edges with weight <= 0"
                )
        self._build(ei[0], ei[1], w, num_nodes)

    def _build(self, src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int) -> None:
        # Written to hold few edge-sized temporaries at once: 31 M edges (ogbn-products'
        # size) build in about 4 GB.
        keep = src != dst
        if not keep.all():
            src, dst, w = src[keep], dst[keep], w[keep]
        del keep
        # both directions as row-major keys, sorted; a repeated edge keeps its largest weight
        key = np.concatenate([src * n + dst, dst * n + src])
        weights: np.ndarray | None = None
        if w.size and (w == w[0]).all():  # one weight for all (unweighted input): a plain sort
            fill = w[0]
            key.sort()
        else:
            order = np.argsort(key, kind="stable")
            key, weights = key[order], np.concatenate([w, w])[order]
            del order
        if key.size:
            start = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
            if start.size < key.size:
                key = key[start]
            if weights is not None:
                weights = np.maximum.reduceat(weights, start)
            del start
        w = np.full(key.size, fill) if weights is None else weights
        edge_index = np.empty((2, key.size), dtype=np.int64)
        np.floor_divide(key, n, out=edge_index[0])
        np.remainder(key, n, out=edge_index[1])
        del key
        rows, cols = edge_index
        self.num_nodes: int = n
        self._edge_index = torch.from_numpy(edge_index)
        self._edge_weight = torch.from_numpy(w)
        deg = np.bincount(rows, weights=w, minlength=n) + 1.0  # the self loop's weight last
        if not np.isfinite(deg).all():
            node = int(np.flatnonzero(~np.isfinite(deg))[0])
            raise ValueError(
                f"edge_weight sums past the float64 range at node {node} (its degree is inf), "
                "which would zero its row of Â; rescale the weights, e.g. "
                "edge_weight / edge_weight.max()"
            )
        dinv = 1.0 / np.sqrt(deg)
        # Â in CSR directly: the edges are in row-major order already, and each row's self
        # loop goes in after its neighbours of smaller id.
        nnz = rows.size + n
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n) + 1, out=indptr[1:])
        loop_at = indptr[:-1] + np.bincount(rows[cols < rows], minlength=n)
        is_edge = np.ones(nnz, dtype=bool)
        is_edge[loop_at] = False
        indices = np.empty(nnz, dtype=np.int64)
        indices[loop_at] = np.arange(n)
        indices[is_edge] = cols
        data = np.empty(nnz)
        data[loop_at] = np.ones(n) * dinv * dinv
        data[is_edge] = w * dinv[rows] * dinv[cols]
        del loop_at, is_edge
        adj = sp.csr_array((data, indices, indptr), shape=(n, n))
        adj.sort_indices()
        self._scipy: sp.csr_array | None = adj
        self._degree = torch.from_numpy(deg)
        self.device = torch.device("cpu")
        # Master copies stay on the CPU; a graph on a device holds only the arrays its calls
        # asked for (the SpMM kernels need int32 ids and float32 values: 20.7 MB at arxiv size,
        # where device copies of these int64/float64 masters would add 41 MB).
        self._crow = torch.from_numpy(adj.indptr.astype(np.int64))
        self._col = torch.from_numpy(adj.indices.astype(np.int64))
        self._val = torch.from_numpy(adj.data)  # float64
        self._index_cache: tuple[Tensor, Tensor] | None = None
        self._kernel_arrays: tuple[Tensor, Tensor, Tensor] | None = None
        self._adj_cache: dict[torch.dtype, Tensor] = {}
        self._csr_cache: dict[torch.dtype, CSR] = {}
        self._plan: Plan | None = None
        self._dgl_cache: Any = None
        self._coo_cache: tuple[Tensor, Tensor] | None = None
        self._drop_cache: tuple[Tensor, Tensor, Tensor, Tensor] | None = None

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_scipy(cls, matrix: sp.spmatrix | sp.sparray) -> Graph:
        """Build from a square scipy sparse adjacency; its nonzero values become edge weights.

        Example:
            >>> import scipy.sparse as sp
            >>> Graph.from_scipy(sp.eye(3, k=1, format="csr")).num_edges
            2
        """
        if not sp.issparse(matrix):
            raise TypeError(f"matrix must be a scipy sparse matrix, got {type(matrix).__name__}")
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"matrix must be square (num_nodes, num_nodes), got {matrix.shape}")
        coo = sp.coo_array(matrix)
        coo.eliminate_zeros()
        ei = np.stack([coo.row.astype(np.int64), coo.col.astype(np.int64)])
        weight = None if np.all(coo.data == 1) else coo.data
        try:
            return cls(ei, num_nodes=matrix.shape[0], edge_weight=weight)
        except (ValueError, TypeError) as err:
            raise type(err)(str(err).replace("edge_weight", "matrix values")) from None

    @classmethod
    def from_networkx(cls, graph: nx.Graph, *, weight: str | None = None) -> Graph:
        """Build from a networkx graph; node ``i`` is the ``i``-th node of ``graph.nodes``.

        Args:
            graph: any networkx graph (directed graphs are symmetrized).
            weight: edge attribute to use as weight; ``None`` ignores weights.

        Example:
            >>> import networkx as nx
            >>> Graph.from_networkx(nx.path_graph(4)).num_edges
            3
        """
        import networkx as nx

        if not isinstance(graph, nx.Graph):
            raise TypeError(f"graph must be a networkx graph, got {type(graph).__name__}")
        if graph.number_of_nodes() == 0:
            raise ValueError("graph has no nodes; a Graph needs at least one node")
        return cls.from_scipy(nx.to_scipy_sparse_array(graph, weight=weight, format="coo"))

    @classmethod
    def from_dgl(cls, graph: dgl.DGLGraph, *, weight: str | None = None) -> Graph:
        """Build from a homogeneous ``dgl.DGLGraph`` (symmetrized; ``weight`` names an edata field)."""
        src, dst = graph.edges()
        ew = None if weight is None else graph.edata[weight]
        return cls(torch.stack([src, dst]), num_nodes=graph.num_nodes(), edge_weight=ew)

    @classmethod
    def from_pyg(cls, data: Any) -> Graph:
        """Build from a PyG ``torch_geometric.data.Data``: its ``edge_index``, ``num_nodes`` and
        ``edge_weight`` (when it has one).

        The rules of :class:`Graph` apply: directed edges are symmetrized, repeated edges keep
        their largest weight, self loops are replaced by one of weight 1. A PyG model that
        deepgnn runs (:func:`deepgnn.wrap`) then receives :attr:`edge_index` and
        :attr:`edge_weight`, so on directed input it sees the symmetrized graph, not
        ``data.edge_index``. ``edge_attr`` (edge features) is not read. torch_geometric is
        not imported: any object with these attributes works.

        Example:
            >>> from types import SimpleNamespace  # stands in for torch_geometric.data.Data
            >>> Graph.from_pyg(SimpleNamespace(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=4))
            Graph(num_nodes=4, num_edges=2, device=cpu)
        """
        edge_index = getattr(data, "edge_index", None)
        if edge_index is None:
            hetero = "; a HeteroData holds one edge_index per edge type: pass data[edge_type]"
            raise TypeError(
                f"data must be a PyG Data with an edge_index, got {type(data).__name__}"
                + (hetero if type(data).__name__ == "HeteroData" else "")
            )
        num_nodes = getattr(data, "num_nodes", None)
        weight = getattr(data, "edge_weight", None)
        return cls(edge_index, num_nodes=num_nodes, edge_weight=weight)

    # ------------------------------------------------------------------- properties
    @property
    def num_edges(self) -> int:
        """Number of undirected edges, self loops excluded."""
        return self._edge_index.shape[1] // 2

    @property
    def edge_index(self) -> Tensor:
        """Both directions of every edge, self loops excluded, shape ``(2, 2 * num_edges)``."""
        return self._edge_index.to(self.device)

    @property
    def edge_weight(self) -> Tensor:
        """Weights of :attr:`edge_index` (ones for an unweighted graph)."""
        return self._edge_weight.to(self.device)

    @property
    def degree(self) -> Tensor:
        """Degrees in :math:`A + I` (float64), shape ``(num_nodes,)``."""
        return self._degree.to(self.device)

    def to_scipy(self) -> sp.csr_array:
        r"""Return :math:`\hat A` as a float64 scipy CSR array."""
        if self._scipy is None:  # a DropEdge sample holds its arrays on its device only
            crow, col, val = (t.cpu().numpy() for t in (self._crow, self._col, self._val))
            self._scipy = sp.csr_array((val, col, crow), shape=(self.num_nodes, self.num_nodes))
        return self._scipy.copy()

    def drop_edges(self, p: float, *, generator: torch.Generator | None = None) -> Graph:
        r"""Return a DropEdge sample: each undirected edge kept with probability ``1 - p``, Â renormalized.

        Rong, Huang, Xu, Huang, "DropEdge: Towards Deep Graph Convolutional Networks on Node
        Classification", ICLR 2020: a new random subset of the edges every epoch, then
        :math:`\hat A' = D'^{-1/2} (A' + I) D'^{-1/2}` of the kept edges, self loops always
        kept. An edge is kept or dropped in both directions, so :math:`\hat A'` stays
        symmetric (the SpMM's backward relies on it). Everything runs on :attr:`device`
        with tensor operations, the kept nonzeros in the sorted order of :math:`\hat A`'s
        CSR (one host copy of the row lengths on CUDA, where the kernel plan is chosen).

        Args:
            p: the probability of dropping an edge, in ``[0, 1)``; 0 (or a graph with no
                edges) returns ``self``.
            generator: a ``torch.Generator`` on :attr:`device` (``None``: the global RNG).

        Returns:
            A :class:`Graph` on :attr:`device` with the same nodes and the kept edges.

        Raises:
            TypeError: ``p`` is not a number, or ``generator`` not a ``torch.Generator``.
            ValueError: ``p`` outside ``[0, 1)``, or ``generator`` on another device.

        Example:
            >>> g = Graph(torch.tensor([[0, 1, 2], [1, 2, 3]]))
            >>> g.drop_edges(0.5, generator=torch.Generator().manual_seed(0)).num_edges <= 3
            True
        """
        # numbers.Real takes numpy's float32 and int64 as well as Python's float and int.
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
            raise TypeError(f"p must be a number, got {type(p).__name__}; pass e.g. p=0.3")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p={p!r}; pass a drop probability in [0, 1), e.g. p=0.3")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator, got {type(generator).__name__}; pass "
                f"torch.Generator(device={str(self.device)!r}).manual_seed(5) for a seed"
            )
        if p == 0 or self.num_edges == 0:  # nothing to drop: self loops are always kept
            return self
        if generator is not None and generator.device != self.device:
            raise ValueError(
                f"generator is on {generator.device} but the graph on {self.device}; pass "
                f"torch.Generator(device={str(self.device)!r})"
            )
        if self._drop_cache is None:
            n = self.num_nodes
            ii, jj = self.coo()  # Â's nonzeros in CSR order, on the device
            off = ii != jj
            key = torch.minimum(ii, jj) * n + torch.maximum(ii, jj)
            pair_of = torch.full_like(ii, -1)  # the undirected edge of each nonzero
            pair_of[off] = torch.unique(key[off], return_inverse=True)[1]
            deg = self.degree
            raw_w = self._val.to(self.device) * (deg[ii] * deg[jj]).sqrt()  # w_ij, 1 on loops
            self._drop_cache = (ii, jj, pair_of, raw_w)
        rows, cols, pair, raw = self._drop_cache
        kept = torch.rand(self.num_edges, generator=generator, device=self.device) >= p
        keep = (pair < 0) | kept[pair.clamp_min(0)]
        r, c, w = rows[keep], cols[keep], raw[keep]
        n = self.num_nodes
        deg = torch.zeros(n, dtype=w.dtype, device=self.device).index_add_(0, r, w)
        dinv = deg.rsqrt()
        out = copy.copy(self)
        out._crow = torch.cat([r.new_zeros(1), torch.bincount(r, minlength=n).cumsum(0)])
        out._col = c
        out._val = w * dinv[r] * dinv[c]
        out._degree = deg
        edge = r != c
        out._edge_index = torch.stack([r[edge], c[edge]])
        out._edge_weight = w[edge]
        out._scipy = None
        out._clear_derived()
        return out

    def adjacency(self, dtype: torch.dtype = torch.float32) -> Tensor:
        r"""Return :math:`\hat A` as a torch sparse CSR tensor on :attr:`device` (cached per dtype)."""
        adj = self._adj_cache.get(dtype)
        if adj is None:
            with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
                warnings.simplefilter("ignore", UserWarning)
                crow, col = self._device_index()
                adj = torch.sparse_csr_tensor(
                    crow,
                    col,
                    self._val.to(device=self.device, dtype=dtype),
                    size=(self.num_nodes, self.num_nodes),
                    check_invariants=False,  # built sorted and in range by _build
                )
            self._adj_cache[dtype] = adj
        return adj

    def to(self, device: Device) -> Graph:
        """Return this graph on ``device`` (itself if already there).

        Raises:
            ValueError: a device this torch cannot use (``"cuda"`` on a CPU-only build).
        """
        # Resolve "cuda" to "cuda:0" (the current device), as tensors report it, so that
        # device checks against x.device compare equal.
        device = torch.empty(0, device=check_device("device", device)).device
        if device == self.device:
            return self
        out = copy.copy(self)
        out.device = device
        out._clear_derived()
        if device.type == "cuda":
            out._kernel_plan()  # chosen once per graph and device, from the degree statistics
        return out

    def check_model(self, model: Any) -> None:
        """Raise when ``model`` would compute on this graph something other than its function of
        the whole graph; every deepgnn model calls it in ``forward``. A whole :class:`Graph`
        takes every model; a :class:`~deepgnn.distributed.DistributedGraph` (one rank's rows)
        refuses those :func:`deepgnn.distributed.check_model` refuses."""
        return None

    def _clear_derived(self) -> None:
        """Forget everything derived from the masters for a device (after a copy)."""
        self._index_cache = None
        self._kernel_arrays = None
        self._adj_cache = {}
        self._csr_cache = {}
        self._plan = None
        self._dgl_cache = None
        self._coo_cache = None
        self._drop_cache = None

    def _kernel_plan(self) -> Plan:
        if self._plan is None:
            crow = self._scipy.indptr if self._scipy is not None else self._crow.cpu().numpy()
            self._plan = plan_for(np.diff(crow), self.device)
        return self._plan

    def kernel_info(self) -> dict[str, Any]:
        r"""Return how :meth:`spmm` runs on :attr:`device`: the path, its parameters and why.

        The plan is chosen when the graph moves to a CUDA device, from its degree statistics
        (nonzeros per row of :math:`\hat A`, self loop included), and cached:

        * ``path``: ``"row"`` (deepgnn's Triton CSR kernel, one program per row),
          ``"split"`` (the same kernel over row segments of at most ``chunk`` nonzeros, the
          long rows' partial sums added by a second kernel) or ``"torch_sparse"``;
        * ``chunk``, ``max_row_nnz``, ``mean_row_nnz``, ``empty_rows``, ``long_rows``,
          ``segments``: the statistics and thresholds behind it;
        * ``reasons``: the choice in words; ``device``: where it applies.

        Example:
            >>> g = Graph(torch.tensor([[0, 1], [1, 2]]))
            >>> g.kernel_info()["path"]
            'torch_sparse'
        """
        info = dict(self._kernel_plan().info)
        info["reasons"] = list(info["reasons"])
        info["device"] = str(self.device)
        return info

    def _device_index(self) -> tuple[Tensor, Tensor]:
        """``(crow, col)`` as int64 on :attr:`device` (the masters themselves on the CPU)."""
        if self._index_cache is None:
            self._index_cache = (self._crow.to(self.device), self._col.to(self.device))
        return self._index_cache

    def _kernel_operand(self, dtype: torch.dtype) -> CSR:
        """Â's arrays as the SpMM kernels take them (int32 ids when they fit), cached per dtype.

        The ids and the float32 values are made once per device and shared by every dtype;
        a dtype other than float32 adds only its values for the ``torch.sparse`` path (float32
        ones where that path multiplies ``dtype`` in float32: bfloat16 on the CPU).
        """
        csr = self._csr_cache.get(dtype)
        if csr is None:
            if self._kernel_arrays is None:
                small = self._col.numel() < 2**31
                crow = self._crow.to(torch.int32) if small else self._crow
                self._kernel_arrays = (
                    crow.to(self.device),
                    self._col.to(torch.int32).to(self.device),
                    self._val.to(device=self.device, dtype=torch.float32),
                )
            crow, col, val32 = self._kernel_arrays
            wide = sparse_dtype(self.device, dtype)
            values = val32 if wide == torch.float32 else self._val.to(self.device, wide)
            plan = self._kernel_plan()
            split: dict[str, Any] = {}
            if plan.path == "split":
                for name in ("seg_ptr", "seg_tgt", "long_rows", "long_ptr"):
                    split[name] = (
                        torch.from_numpy(getattr(plan, name)).to(crow.dtype).to(crow.device)
                    )
                split["slots"] = plan.slots
            with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
                warnings.simplefilter("ignore", UserWarning)
                sparse = torch.sparse_csr_tensor(
                    crow,
                    col,
                    values,
                    size=(self.num_nodes, self.num_nodes),
                    check_invariants=False,  # built sorted and in range by _build
                )
            csr = CSR(sparse, crow, col, val32, plan.path, **split)
            self._csr_cache[dtype] = csr
        return csr

    def spmm(
        self, x: Tensor, *, bias: Tensor | None = None, activation: str = "identity"
    ) -> Tensor:
        r"""Return :math:`\sigma(\hat A x + b)`, differentiable twice.

        :math:`\sigma` is ``activation``: ``"identity"`` (the plain product), ``"tanh"`` or
        ``"relu"``. On CUDA with Triton importable this runs deepgnn's CSR kernel, with the
        bias and the activation applied in its epilogue; elsewhere ``torch.sparse.mm``, then
        the activation in place. Either way the result equals ``torch.tanh(graph.spmm(x,
        bias=b))`` (or ``relu``) up to float rounding, in one autograd node whose backward
        takes :math:`\sigma'` from the saved output and reuses the forward kernel, since
        :math:`\hat A` is symmetric.

        Args:
            x: dense floating tensor of shape ``(num_nodes,)`` or ``(num_nodes, d)`` on
                :attr:`device`.
            bias: optional tensor of shape ``(d,)`` added to every row of :math:`\hat A x`.
            activation: ``"identity"``, ``"tanh"`` or ``"relu"``.

        Returns:
            A tensor with the shape and dtype of ``x``.

        Example:
            >>> import torch
            >>> g = Graph(torch.tensor([[0, 1], [1, 2]]))
            >>> x, b = torch.randn(3, 4), torch.randn(4)
            >>> torch.allclose(g.spmm(x, bias=b, activation="tanh"), torch.tanh(g.spmm(x, bias=b)))
            True
        """
        x2, vector = self._spmm_operand(x, bias, activation)
        out = self._product(x2, bias, activation)
        return out.reshape(x.shape) if vector else out

    def _rows_hint(self) -> str:
        """What ``x`` of :meth:`spmm` holds, for the shape error."""
        return f"x must have shape (num_nodes={self.num_nodes}, d) or ({self.num_nodes},)"

    def _product(self, x2: Tensor, bias: Tensor | None, activation: str) -> Tensor:
        r""":math:`\sigma(\hat A x + b)` of checked, contiguous 2-D operands."""
        return symmetric_spmm(self._kernel_operand(x2.dtype), x2, bias, activation)

    def _spmm_operand(self, x: Tensor, bias: Tensor | None, activation: str) -> tuple[Tensor, bool]:
        """Check :meth:`spmm`'s arguments; return ``x`` as a contiguous 2-D tensor and whether
        it was a vector."""
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"x has dtype {x.dtype}; pass a floating tensor, e.g. x.float()")
        if x.dim() not in (1, 2) or x.shape[0] != self.num_nodes:
            raise ValueError(f"{self._rows_hint()}, got {tuple(x.shape)}")
        if x.device != self.device:
            raise ValueError(
                f"x is on {x.device} but the graph on {self.device}; call graph.to(x.device)"
            )
        if activation not in SPMM_ACTIVATIONS:
            raise ValueError(
                f"activation={activation!r} is not one of {list(SPMM_ACTIVATIONS)}; apply "
                "other activations to the result of graph.spmm(x, bias=bias)"
            )
        vector = x.dim() == 1
        d = 1 if vector else x.shape[1]
        if bias is not None:
            if not isinstance(bias, Tensor):
                raise TypeError(f"bias must be a torch.Tensor or None, got {type(bias).__name__}")
            if bias.shape != (d,) or bias.device != x.device:
                raise ValueError(
                    f"bias must have shape ({d},) and live on {x.device}, got shape "
                    f"{tuple(bias.shape)} on {bias.device}"
                )
        x2 = (x.reshape(self.num_nodes, 1) if vector else x).contiguous()
        return x2, vector

    def coo(self) -> tuple[Tensor, Tensor]:
        r"""Return ``(row, col)`` of :math:`\hat A`'s nonzeros (self loops included), on :attr:`device`."""
        if self._coo_cache is None:
            crow, col = self._device_index()
            counts = crow[1:] - crow[:-1]
            rows = torch.repeat_interleave(torch.arange(self.num_nodes, device=self.device), counts)
            self._coo_cache = (rows, col)
        return self._coo_cache

    def to_dgl(self) -> dgl.DGLGraph:
        r"""Return a ``dgl.DGLGraph`` with self loops and :math:`\hat A`'s values in ``edata["w"]``."""
        if self._dgl_cache is None:
            from deepgnn._dgl import import_dgl

            dgl = import_dgl()
            rows, cols = self.coo()
            g = dgl.graph((cols, rows), num_nodes=self.num_nodes)  # message from column j to row i
            g.edata["w"] = self._val.to(device=self.device, dtype=torch.float32)
            self._dgl_cache = g
        return self._dgl_cache

    def __repr__(self) -> str:
        return (
            f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges}, device={self.device})"
        )


def _is_pyg_data(value: object) -> bool:
    return any(c.__module__.startswith("torch_geometric.") for c in type(value).__mro__)


def as_graph(value: object, *, arg: str = "graph") -> Graph:
    """Return ``value`` as a :class:`Graph`: a Graph itself, a ``dgl.DGLGraph``
    (:meth:`Graph.from_dgl`) or a PyG ``Data`` (:meth:`Graph.from_pyg`), converted.

    Every entry point that takes a graph (analysis, inits, search, models) accepts these
    three. A bare ``edge_index`` is refused, since the number of nodes is not in it.

    Args:
        value: the graph.
        arg: the argument's name in the error message.

    Raises:
        TypeError: anything else, saying what to pass.

    Example:
        >>> g = Graph(torch.tensor([[0, 1], [1, 2]]))
        >>> as_graph(g) is g
        True
        >>> as_graph(torch.tensor([[0, 1], [1, 2]]))
        Traceback (most recent call last):
        TypeError: graph is an edge_index tensor; pass deepgnn.Graph(edge_index, num_nodes=x.shape[0]) (the node count is not in the edge list)
    """
    if isinstance(value, Graph):
        return value
    name = type(value).__name__
    if name == "DGLGraph":
        return Graph.from_dgl(value)
    if _is_pyg_data(value) and hasattr(value, "edge_index"):
        return Graph.from_pyg(value)
    if isinstance(value, (Tensor, np.ndarray)):
        raise TypeError(
            f"{arg} is an edge_index {'tensor' if isinstance(value, Tensor) else 'array'}; pass "
            "deepgnn.Graph(edge_index, num_nodes=x.shape[0]) (the node count is not in the edge list)"
        )
    raise TypeError(
        f"{arg} must be a deepgnn.Graph, a dgl.DGLGraph or a PyG Data, got {name}; build one "
        "with deepgnn.Graph(edge_index, num_nodes=...)"
    )
