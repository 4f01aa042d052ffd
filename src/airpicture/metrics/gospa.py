"""GOSPA and OSPA between sampled truths and tracks, vectorised over all time steps at once.

GOSPA (Rahmathullah, Garcia-Fernandez, Svensson, "Generalized optimal sub-pattern assignment
metric", FUSION 2017) with alpha = 2 has an assignment form: at one time step, with truths X
(m of them) and tracks Y (n), cut-off c and order p,

    GOSPA^p = min over partial assignments of
              sum_{assigned (i, j)} d(x_i, y_j)^p            (localisation)
            + c^p / 2 * (number of unassigned truths)        (missed)
            + c^p / 2 * (number of unassigned tracks)        (false)

Only pairs with d < c can lower the cost (a pair at d >= c costs c^p, exactly what leaving both
unassigned costs), so the problem splits into the connected components of the bipartite graph
of pairs closer than c. Most components are a single pair and are resolved all at once; only
contested components go to ``scipy.optimize.linear_sum_assignment``. The pairs are found for every
time step in one k-d tree query by giving each time step its own slab along an extra coordinate.

Units, exactly as Stone Soup 1.9.1's ``GOSPAMetric`` reports them per time step:
``total`` is the GOSPA distance (the p-th root of the sum); ``localisation``, ``missed`` and
``false`` are the three terms of the sum *before* the root (units m^p). For p = 1 the three add
up to ``total``. :meth:`GospaResult.summary` averages each over the time steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..errors import InputError
from ._columns import paired_columns


@dataclass(frozen=True)
class GospaResult:
    """GOSPA and OSPA per evaluation time.

    Every per-time array has shape (T,), one entry per time at which a truth or a track exists
    (the union of both sets of times, sorted), as Stone Soup evaluates them.

    Attributes
    ----------
    times : evaluation times.
    total : GOSPA distance per time, ``(localisation + missed + false) ** (1 / p)`` (m).
    localisation : sum of d^p over assigned pairs (m^p).
    missed : c^p / 2 times the number of unassigned truths (m^p).
    false : c^p / 2 times the number of unassigned tracks (m^p).
    ospa : OSPA distance per time (m), from the same optimal assignment.
    n_truth, n_tracks, n_assigned : counts per time.
    pair_truth_row, pair_track_row : for every assigned pair (d < c), the row indices into the
        caller's truth and track arrays.
    pair_distance : the Euclidean distance of each assigned pair (m).
    c, p, alpha : the parameters used.
    """

    times: np.ndarray
    total: np.ndarray
    localisation: np.ndarray
    missed: np.ndarray
    false: np.ndarray
    ospa: np.ndarray
    n_truth: np.ndarray
    n_tracks: np.ndarray
    n_assigned: np.ndarray
    pair_truth_row: np.ndarray
    pair_track_row: np.ndarray
    pair_distance: np.ndarray
    c: float
    p: float
    alpha: float = 2.0

    def summary(self) -> dict[str, float]:
        """Means over the evaluation times: ``{total, localisation, missed, false, ospa}``.

        ``total`` is the mean of the per-time GOSPA distances (root taken per time step, then
        averaged), the usual way Stone Soup's per-time values are summarised. With no evaluation
        time at all (both sets empty) every value is 0, the GOSPA distance between empty sets.
        """
        if self.times.shape[0] == 0:
            return {"total": 0.0, "localisation": 0.0, "missed": 0.0, "false": 0.0, "ospa": 0.0}
        return {
            "total": float(np.mean(self.total)),
            "localisation": float(np.mean(self.localisation)),
            "missed": float(np.mean(self.missed)),
            "false": float(np.mean(self.false)),
            "ospa": float(np.mean(self.ospa)),
        }


def _check_parameters(c: float, p: float, alpha: float) -> tuple[float, float]:
    c = float(c)
    p = float(p)
    if not (np.isfinite(c) and c > 0):
        raise InputError(f"cut-off c must be a finite number > 0, got {c}", field="c")
    if not (np.isfinite(p) and p >= 1):
        raise InputError(f"order p must be finite and >= 1, got {p}", field="p")
    if float(alpha) != 2.0:
        raise InputError(f"only alpha = 2 (the assignment form of GOSPA) is supported, got {alpha}",
                         field="alpha")
    return c, p


def close_pairs(time_index_a, pos_a, time_index_b, pos_b, max_distance: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (i, j) with equal time index and Euclidean distance < ``max_distance``.

    One k-d tree for all time steps: each time step is moved into its own slab along an
    extra coordinate, 3 * max_distance apart, so pairs from different time steps are never
    within reach. Distances are recomputed from the original coordinates so that they do not
    depend on that shift.

    Returns
    -------
    i, j : int64 arrays of row indices into a and b.
    distance : float64 array.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if pos_a.shape[0] == 0 or pos_b.shape[0] == 0:
        return empty
    slab = 3.0 * max_distance
    # Centre the coordinates so the shift does not cost precision on ECEF-sized numbers.
    origin = np.concatenate([pos_a, pos_b]).mean(axis=0)
    points_a = np.column_stack([pos_a - origin, time_index_a * slab])
    tree_b = cKDTree(np.column_stack([pos_b - origin, time_index_b * slab]))
    # k nearest within reach, for all rows at once; rows whose k-th neighbour is still within
    # reach may have more, so they are asked again with a larger k until none is saturated.
    found_i, found_j = [], []
    rows = np.arange(pos_a.shape[0])
    k = 4
    while rows.shape[0]:
        k_eff = min(k, pos_b.shape[0])
        _, idx = tree_b.query(points_a[rows], k=k_eff, distance_upper_bound=max_distance)
        idx = idx.reshape(rows.shape[0], k_eff)
        hit = idx < pos_b.shape[0]
        saturated = hit[:, -1] & (k_eff < pos_b.shape[0])
        done = ~saturated
        found_i.append(np.broadcast_to(rows[:, None], idx.shape)[hit & done[:, None]])
        found_j.append(idx[hit & done[:, None]])
        rows = rows[saturated]
        k *= 4
    i = np.concatenate(found_i).astype(np.int64)
    j = np.concatenate(found_j).astype(np.int64)
    distance = np.linalg.norm(pos_a[i] - pos_b[j], axis=1)
    keep = distance < max_distance
    return i[keep], j[keep], distance[keep]


def min_cost_partial_assignment(i, j, cost, unassigned_cost: float) -> np.ndarray:
    """Optimal partial assignment on a sparse bipartite graph.

    Minimises the sum of ``cost`` over chosen edges plus ``unassigned_cost`` for each pair of
    nodes left out (one on each side), i.e. ``linear_sum_assignment`` on a dense matrix filled
    with ``unassigned_cost`` off the edges, restricted to pairs cheaper than that. The graph is
    split into connected components; single-edge components are taken directly, only contested
    components are solved.

    Parameters
    ----------
    i, j : int arrays (e,)
        Edge end points, any non-negative labels for the two sides.
    cost : float array (e,)
        Edge costs; edges with cost >= ``unassigned_cost`` are ignored.

    Returns
    -------
    chosen : int64 array of indices into the edge arrays.
    """
    useful = np.flatnonzero(cost < unassigned_cost)
    if useful.shape[0] == 0:
        return useful.astype(np.int64)
    i, j, cost = i[useful], j[useful], cost[useful]
    _, a = np.unique(i, return_inverse=True)
    _, b = np.unique(j, return_inverse=True)
    n_a = int(a.max()) + 1
    n_nodes = n_a + int(b.max()) + 1
    graph = coo_matrix((np.ones(a.shape[0]), (a, n_a + b)), shape=(n_nodes, n_nodes))
    _, label = connected_components(graph, directed=False)
    component = label[a]
    edges_in_component = np.bincount(component)
    single = edges_in_component[component] == 1
    chosen = [np.flatnonzero(single)]

    contested = np.flatnonzero(~single)
    if contested.shape[0]:
        contested = contested[np.argsort(component[contested], kind="stable")]
        bounds = np.flatnonzero(np.diff(component[contested])) + 1
        for group in np.split(contested, bounds):
            rows, row_of = np.unique(a[group], return_inverse=True)
            cols, col_of = np.unique(b[group], return_inverse=True)
            matrix = np.full((rows.shape[0], cols.shape[0]), np.inf)
            matrix[row_of, col_of] = cost[group]
            edge_at = np.full(matrix.shape, -1, dtype=np.int64)
            edge_at[row_of, col_of] = group
            # Off-edge cells cost the same as leaving both nodes unassigned.
            r, k = linear_sum_assignment(np.minimum(matrix, unassigned_cost))
            picked = edge_at[r, k]
            chosen.append(picked[picked >= 0])
    return useful[np.concatenate(chosen)]


def gospa_sequence(truth_time, truth_id, truth_pos, track_time, track_id, track_pos, c: float,
                   p: float, alpha: float = 2) -> GospaResult:
    """GOSPA (alpha = 2) and OSPA at every time where a truth or a track is sampled.

    Samples are matched by exact time equality; the caller samples truths and tracks at the same
    evaluation times. Rows with a non-finite position are ignored (not alive); of several rows
    with the same (time, id) the last one counts, as in Stone Soup.

    Parameters
    ----------
    truth_time : (n,) float, s
    truth_id : (n,) int
    truth_pos : (n, k) float, m, k = 2 or 3, any Cartesian frame
    track_time, track_id, track_pos : the same for tracks (same k)
    c : float
        Cut-off distance (m), > 0.
    p : float
        Order, 1 <= p < inf.
    alpha : float
        Must be 2 (the assignment form of GOSPA).

    Returns
    -------
    GospaResult
    """
    c, p = _check_parameters(c, p, alpha)
    truth, track = paired_columns(truth_time, truth_id, truth_pos, None, track_time, track_id, track_pos, None)
    times = np.unique(np.concatenate([truth.time, track.time]))
    truth_t = np.searchsorted(times, truth.time)
    track_t = np.searchsorted(times, track.time)
    n_times = times.shape[0]

    c_p = c**p
    i, j, distance = close_pairs(truth_t, truth.position, track_t, track.position, c)
    cost = distance**p
    chosen = min_cost_partial_assignment(i, j, cost, c_p)
    i, j, distance, cost = i[chosen], j[chosen], distance[chosen], cost[chosen]
    pair_t = truth_t[i]

    n_truth = np.bincount(truth_t, minlength=n_times)
    n_tracks = np.bincount(track_t, minlength=n_times)
    n_assigned = np.bincount(pair_t, minlength=n_times)
    localisation = np.bincount(pair_t, weights=cost, minlength=n_times).astype(np.float64)
    missed = 0.5 * c_p * (n_truth - n_assigned)
    false = 0.5 * c_p * (n_tracks - n_assigned)
    total = (localisation + missed + false) ** (1.0 / p)

    # OSPA from the same assignment: n * OSPA^p = localisation + c^p * (max(m, n) - assigned).
    larger = np.maximum(n_truth, n_tracks)
    with np.errstate(invalid="ignore", divide="ignore"):
        ospa = np.where(larger > 0, ((localisation + c_p * (larger - n_assigned)) / larger) ** (1.0 / p),
                        0.0)

    order = np.lexsort((j, i))
    return GospaResult(
        times=times, total=total, localisation=localisation, missed=missed, false=false, ospa=ospa,
        n_truth=n_truth, n_tracks=n_tracks, n_assigned=n_assigned,
        pair_truth_row=truth.row[i[order]], pair_track_row=track.row[j[order]],
        pair_distance=distance[order], c=c, p=p, alpha=2.0,
    )
