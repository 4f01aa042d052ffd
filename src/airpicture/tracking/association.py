"""Gating and data association over arrays: kd-tree gating, cluster-wise GNN, JPDA marginals.

Every function works on *candidate pairs*: parallel arrays ``track_idx``, ``meas_idx`` (and a cost or likelihood per
pair) instead of a dense tracks x measurements matrix, so memory and time follow the number of plausible pairings,
not the product of the counts.

Independent clusters
--------------------
Two tracks interact only if a chain of shared candidate measurements links them. The connected components of the
bipartite candidate graph (tracks + measurements as nodes, pairs as edges) are therefore independent sub-problems.
Most components in practice are trivial (one track, or one measurement) and are solved in bulk with sorting; only
genuinely contested components reach :func:`scipy.optimize.linear_sum_assignment` (GNN) or hypothesis enumeration
(JPDA).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

# SciPy's optimize, sparse and spatial packages are imported where first used: together they cost about a
# second of start-up, and a transponder-only replay never needs them.
if TYPE_CHECKING:
    from scipy.spatial import cKDTree

__all__ = [
    "gate_candidates",
    "pair_clusters",
    "gnn_assign",
    "jpda_weights",
    "JPDA_EXACT_MAX_EVENTS",
]

#: Exact JPDA enumerates every joint event of a cluster; beyond this many events (upper bound, product over the
#: cluster's tracks of 1 + number of candidates) the cluster is solved by loopy belief propagation instead.
JPDA_EXACT_MAX_EVENTS = 20_000

_EMPTY = np.zeros(0, np.int64)

# Radii are grouped into geometric bins so one kd-tree query per bin needs no per-track loop, while a few coasting
# tracks with huge gates do not inflate the query radius of everyone else.
_RADIUS_BIN_RATIO = 2.0


def _fast_tree(points: np.ndarray) -> "cKDTree":
    # Unbalanced, non-compact trees build ~2x faster and query as fast for uniform-ish point sets.
    from scipy.spatial import cKDTree

    return cKDTree(points, balanced_tree=False, compact_nodes=False)


def gate_candidates(track_points, meas_points, radius, *, meas_tree: "cKDTree | None" = None,
                    return_distance: bool = False):
    """Candidate (track, measurement) pairs closer than a Euclidean radius.

    Parameters
    ----------
    track_points : (m, k) array
        Predicted track positions (any Euclidean frame shared with the measurements).
    meas_points : (n, k) array
        Measurement positions.
    radius : float or (m,) array
        Gate radius in the same unit, one for all tracks or one per track (non-finite or negative: no gate).
    meas_tree : cKDTree, optional
        A tree already built on ``meas_points`` (reuse it across calls on the same scan).
    return_distance : bool
        Also return the Euclidean distance of each pair.

    Returns
    -------
    track_idx, meas_idx : (p,) int64 arrays
        Pairs with ``|track - meas| <= radius[track]``, sorted by track then measurement.
    distance : (p,) float64 array, only if ``return_distance``.
    """
    track_points = np.asarray(track_points, dtype=np.float64)
    meas_points = np.asarray(meas_points, dtype=np.float64)
    m = track_points.shape[0]
    n = meas_points.shape[0]
    if m == 0 or n == 0:
        return (_EMPTY, _EMPTY, np.zeros(0)) if return_distance else (_EMPTY, _EMPTY)
    radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (m,))
    usable = np.isfinite(radius) & (radius >= 0)
    for column in range(track_points.shape[1]):  # column by column: reductions along a short axis are slow
        usable &= np.isfinite(track_points[:, column])
    if meas_tree is None:
        if not np.isfinite(meas_points).all():
            raise ValueError("measurement positions must be finite")
        meas_tree = _fast_tree(meas_points)

    track_parts, meas_parts, dist_parts = [], [], []
    usable_idx = np.flatnonzero(usable)
    if usable_idx.size:
        r = radius[usable_idx]
        r_min = max(float(r.min()), 1e-9)
        bins = np.floor(np.log(np.maximum(r, r_min) / r_min) / np.log(_RADIUS_BIN_RATIO)).astype(np.int64)
        order = np.argsort(bins, kind="stable")
        bins_sorted = bins[order]
        starts = np.flatnonzero(np.r_[True, bins_sorted[1:] != bins_sorted[:-1]])
        ends = np.r_[starts[1:], bins_sorted.size]
        for s, e in zip(starts, ends):
            members = usable_idx[order[s:e]]
            r_bin = float(radius[members].max())
            sub_tree = _fast_tree(track_points[members])
            found = sub_tree.sparse_distance_matrix(meas_tree, r_bin, output_type="ndarray")
            ti = members[found["i"].astype(np.int64)]
            d = found["v"]
            keep = d <= radius[ti]
            track_parts.append(ti[keep])
            meas_parts.append(found["j"].astype(np.int64)[keep])
            dist_parts.append(d[keep])
    if not track_parts:
        return (_EMPTY, _EMPTY, np.zeros(0)) if return_distance else (_EMPTY, _EMPTY)
    ti = np.concatenate(track_parts)
    mj = np.concatenate(meas_parts)
    d = np.concatenate(dist_parts)
    order = np.lexsort((mj, ti))
    if return_distance:
        return ti[order], mj[order], d[order]
    return ti[order], mj[order]


def pair_clusters(n_tracks: int, n_meas: int, track_idx, meas_idx):
    """Label each candidate pair with its independent cluster.

    Returns
    -------
    pair_label : (p,) int64
        Cluster label per pair, numbered 0..n_clusters-1 in order of first appearance after relabelling.
    n_clusters : int
    track_label : (n_tracks,) int64
        Cluster of each track, -1 for tracks without candidates.
    meas_label : (n_meas,) int64
        Cluster of each measurement, -1 for measurements without candidates.
    """
    track_idx = np.asarray(track_idx, np.int64)
    meas_idx = np.asarray(meas_idx, np.int64)
    track_label = np.full(n_tracks, -1, np.int64)
    meas_label = np.full(n_meas, -1, np.int64)
    if track_idx.size == 0:
        return _EMPTY, 0, track_label, meas_label
    n_nodes = n_tracks + n_meas
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(track_idx.size, np.int8), (track_idx, n_tracks + meas_idx)),
                       shape=(n_nodes, n_nodes)).tocsr()
    _, labels = connected_components(graph, directed=False)
    raw = labels[track_idx]
    # Relabel densely so that only nodes that appear in a pair own a cluster number.
    uniq, pair_label = np.unique(raw, return_inverse=True)
    pair_label = pair_label.astype(np.int64)
    track_label[track_idx] = pair_label
    meas_label[meas_idx] = pair_label
    return pair_label, int(uniq.size), track_label, meas_label


def gnn_assign(n_tracks: int, n_meas: int, track_idx, meas_idx, cost, miss_cost=None):
    """Global nearest neighbour: the optimal one-to-one assignment over candidate pairs.

    Cost convention
    ---------------
    The solver minimises ``sum(cost of assigned pairs) + sum(miss_cost of unassigned tracks)``; an unassigned
    measurement costs nothing (it is clutter, or a new target for the initiator). With Gaussian likelihoods the
    natural pair cost is ``d^2 + ln det S`` (twice the negative log-likelihood up to a constant, ``d^2`` the squared
    Mahalanobis distance of the innovation and ``S`` its covariance), and the natural miss cost is the same quantity
    at the gate boundary, ``gamma + ln det S`` (plus ``-2 ln(1 - Pd)`` terms if wanted). A pair whose cost is not
    below its track's miss cost is never worth taking and is dropped before solving.

    With ``miss_cost=None`` every track is assigned whenever possible: the assignment has maximum cardinality and,
    among those, minimum total cost.

    Parameters
    ----------
    n_tracks, n_meas : int
    track_idx, meas_idx : (p,) int arrays
        Candidate pairs (each pair at most once).
    cost : (p,) float array
    miss_cost : None, float or (n_tracks,) array

    Returns
    -------
    assigned_track_idx, assigned_meas_idx : int64 arrays of equal length, sorted by track.
    """
    track_idx = np.asarray(track_idx, np.int64)
    meas_idx = np.asarray(meas_idx, np.int64)
    cost = np.asarray(cost, np.float64)
    if not (track_idx.shape == meas_idx.shape == cost.shape):
        raise ValueError("track_idx, meas_idx and cost must have the same length")
    keep = np.isfinite(cost)
    if miss_cost is not None:
        miss = np.broadcast_to(np.asarray(miss_cost, np.float64), (n_tracks,))
        keep &= cost < miss[track_idx]
    else:
        miss = None
    if not keep.all():
        track_idx, meas_idx, cost = track_idx[keep], meas_idx[keep], cost[keep]
    if track_idx.size == 0:
        return _EMPTY, _EMPTY

    pair_label, n_clusters, _, _ = pair_clusters(n_tracks, n_meas, track_idx, meas_idx)
    # Tracks and measurements per cluster: a pair is a unique (track, meas), so count distinct nodes per label.
    tracks_per_cluster = np.bincount(pair_label[_first_of_each(track_idx)], minlength=n_clusters)
    meas_per_cluster = np.bincount(pair_label[_first_of_each(meas_idx)], minlength=n_clusters)
    trivial = (tracks_per_cluster == 1) | (meas_per_cluster == 1)

    # Trivial cluster: at most one assignment is possible, and the pair with the largest saving over leaving its
    # track unassigned (miss - cost > 0 for every kept pair) is optimal. Sort by (cluster, cost - miss) and take each
    # cluster's first pair.
    pair_trivial = trivial[pair_label]
    out_t = []
    out_m = []
    if pair_trivial.any():
        sel = np.flatnonzero(pair_trivial)
        key = cost[sel] if miss is None else cost[sel] - miss[track_idx[sel]]
        order = sel[np.lexsort((key, pair_label[sel]))]
        lab = pair_label[order]
        first = np.r_[True, lab[1:] != lab[:-1]]
        out_t.append(track_idx[order[first]])
        out_m.append(meas_idx[order[first]])

    if not trivial.all():
        sel = np.flatnonzero(~pair_trivial)
        order = sel[np.argsort(pair_label[sel], kind="stable")]
        lab = pair_label[order]
        bounds = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1], True])
        for s, e in zip(bounds[:-1], bounds[1:]):
            idx = order[s:e]
            at, am = _solve_cluster(track_idx[idx], meas_idx[idx], cost[idx], miss)
            out_t.append(at)
            out_m.append(am)

    at = np.concatenate(out_t) if out_t else _EMPTY
    am = np.concatenate(out_m) if out_m else _EMPTY
    order = np.argsort(at, kind="stable")
    return at[order], am[order]


def _first_of_each(node_idx: np.ndarray) -> np.ndarray:
    """Index of one pair per distinct node (a node belongs to exactly one cluster)."""
    _, first = np.unique(node_idx, return_index=True)
    return first


def _solve_cluster(ti, mj, cost, miss):
    """Optimal assignment of one contested cluster with linear_sum_assignment and per-track miss columns."""
    tracks, t_local = np.unique(ti, return_inverse=True)
    meas, m_local = np.unique(mj, return_inverse=True)
    nt, nm = tracks.size, meas.size
    if miss is None:
        # A miss must lose to any assignment: bigger than any sum of pair costs in the cluster.
        big = float(np.abs(cost).sum()) * 2.0 + 1.0
        miss_local = np.full(nt, big)
    else:
        miss_local = miss[tracks]
    # Shift costs so all entries are >= 0; the shift is the same for every track row (each row takes exactly one
    # column), so the optimum is unchanged.
    shift = min(float(cost.min()), float(miss_local.min()), 0.0)
    matrix = np.full((nt, nm + nt), np.inf)
    matrix[t_local, m_local] = cost - shift
    matrix[np.arange(nt), nm + np.arange(nt)] = miss_local - shift
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(matrix)
    real = cols < nm
    return tracks[rows[real]], meas[cols[real]]


def jpda_weights(n_tracks: int, n_meas: int, track_idx, meas_idx, likelihood, pd, pg, clutter_density,
                 *, max_events: int = JPDA_EXACT_MAX_EVENTS, bp_iterations: int = 200, bp_tol: float = 1e-10):
    """JPDA marginal association probabilities, per independent cluster.

    Model (Bar-Shalom's parametric JPDA): a joint event assigns each track at most one measurement and each
    measurement at most one track. Its probability is proportional to

        prod over assigned (t, j) of  Pd_t * likelihood_tj / clutter_density_j
        prod over unassigned tracks  of  1 - Pd_t * Pg

    where ``likelihood_tj`` is the Gaussian density of measurement j under track t's predicted measurement
    (``N(z_j; z_hat_t, S_t)``) and ``clutter_density_j`` the clutter spatial density (per unit measurement volume).

    Clusters with at most ``max_events`` joint events (upper bound: product of 1 + candidates per track) are
    enumerated exactly; single-track clusters reduce to PDA and are done in bulk. Larger clusters use loopy belief
    propagation on the association graph (Williams & Lau, 2014), whose marginals are exact on trees and very close
    otherwise.

    Parameters
    ----------
    track_idx, meas_idx : (p,) int arrays
        Gated candidate pairs.
    likelihood : (p,) array
    pd : float or (n_tracks,) array
    pg : float
        Gate probability.
    clutter_density : float or (n_meas,) array

    Returns
    -------
    pair_beta : (p,) array
        P(track t is associated with measurement j), aligned with the input pairs.
    miss_beta : (n_tracks,) array
        P(track t has no measurement). For every track ``miss_beta + sum of its pair_beta == 1``.
    """
    track_idx = np.asarray(track_idx, np.int64)
    meas_idx = np.asarray(meas_idx, np.int64)
    likelihood = np.asarray(likelihood, np.float64)
    pd = np.broadcast_to(np.asarray(pd, np.float64), (n_tracks,))
    clutter = np.broadcast_to(np.asarray(clutter_density, np.float64), (n_meas,))
    miss_w = 1.0 - pd * pg
    pair_w = pd[track_idx] * likelihood / clutter[meas_idx]
    pair_beta = np.zeros(track_idx.size)
    miss_beta = np.ones(n_tracks)
    if track_idx.size == 0:
        return pair_beta, miss_beta

    pair_label, n_clusters, _, _ = pair_clusters(n_tracks, n_meas, track_idx, meas_idx)
    tracks_per_cluster = np.bincount(pair_label[_first_of_each(track_idx)], minlength=n_clusters)
    single = tracks_per_cluster[pair_label] == 1

    if single.any():
        # PDA: each track alone; normalise its miss weight and pair weights together.
        s = np.flatnonzero(single)
        ts = track_idx[s]
        total = miss_w.copy()
        np.add.at(total, ts, pair_w[s])
        pair_beta[s] = pair_w[s] / total[ts]
        with_single = np.unique(ts)
        miss_beta[with_single] = miss_w[with_single] / total[with_single]

    if not single.all():
        sel = np.flatnonzero(~single)
        order = sel[np.argsort(pair_label[sel], kind="stable")]
        lab = pair_label[order]
        bounds = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1], True])
        big_pairs = []
        for s, e in zip(bounds[:-1], bounds[1:]):
            idx = order[s:e]
            ti = track_idx[idx]
            degree = np.bincount(np.unique(ti, return_inverse=True)[1])
            log_events = float(np.log1p(degree).sum())
            if log_events <= np.log(max_events):
                pb, tracks, mb = _jpda_exact(ti, meas_idx[idx], pair_w[idx], miss_w)
                pair_beta[idx] = pb
                miss_beta[tracks] = mb
            else:
                big_pairs.append(idx)
        if big_pairs:
            idx = np.concatenate(big_pairs)
            pb, mb_all = _jpda_belief_propagation(n_tracks, n_meas, track_idx[idx], meas_idx[idx], pair_w[idx],
                                                  miss_w, bp_iterations, bp_tol)
            pair_beta[idx] = pb
            tracks = np.unique(track_idx[idx])
            miss_beta[tracks] = mb_all[tracks]
    return pair_beta, miss_beta


def _jpda_exact(ti, mj, pair_w, miss_w):
    """Enumerate every joint event of one cluster, building the events track by track as arrays."""
    tracks, t_local = np.unique(ti, return_inverse=True)
    meas, m_local = np.unique(mj, return_inverse=True)
    nt, nm = tracks.size, meas.size
    # events: chosen pair index per track (-1 = miss); used: measurement taken; weight: product so far.
    choice = np.full((1, nt), -1, np.int64)
    used = np.zeros((1, nm), bool)
    weight = np.ones(1)
    for t in range(nt):
        mine = np.flatnonzero(t_local == t)
        # Option 0 is the miss; options 1.. are this track's pairs.
        n_opt = mine.size + 1
        e = weight.size
        rep_choice = np.repeat(choice, n_opt, axis=0)
        rep_used = np.repeat(used, n_opt, axis=0)
        rep_weight = np.repeat(weight, n_opt)
        opt = np.tile(np.arange(n_opt), e)
        ok = np.ones(rep_weight.size, bool)
        is_pair = opt > 0
        pidx = np.where(is_pair, mine[np.maximum(opt - 1, 0)], -1)
        mcol = np.where(is_pair, m_local[np.maximum(pidx, 0)], 0)
        rows = np.arange(rep_weight.size)
        ok[is_pair] = ~rep_used[rows[is_pair], mcol[is_pair]]
        rep_used[rows[is_pair & ok], mcol[is_pair & ok]] = True
        rep_choice[:, t] = pidx
        rep_weight = rep_weight * np.where(is_pair, pair_w[np.maximum(pidx, 0)], miss_w[tracks[t]])
        choice, used, weight = rep_choice[ok], rep_used[ok], rep_weight[ok]
    total = weight.sum()
    prob = weight / total
    pair_beta = np.zeros(ti.size)
    chosen = choice.ravel()
    ev_prob = np.repeat(prob, nt)
    hit = chosen >= 0
    np.add.at(pair_beta, chosen[hit], ev_prob[hit])
    miss_beta = np.zeros(nt)
    miss_rows = (choice < 0)
    miss_beta = (miss_rows * prob[:, None]).sum(axis=0)
    return pair_beta, tracks, miss_beta


def _jpda_belief_propagation(n_tracks, n_meas, ti, mj, pair_w, miss_w, iterations, tol):
    """Association marginals by loopy belief propagation (Williams & Lau), vectorised over pairs.

    Messages: mu (track -> measurement) and nu (measurement -> track), one per pair. Weights are normalised so that
    a measurement's "clutter" option has weight 1.
    """
    nu = np.ones(ti.size)
    for _ in range(iterations):
        track_sum = miss_w.copy()
        np.add.at(track_sum, ti, pair_w * nu)
        # Leave-one-out: the pair's own term is removed from its track's sum.
        mu = pair_w / (track_sum[ti] - pair_w * nu)
        meas_sum = np.ones(n_meas)
        np.add.at(meas_sum, mj, mu)
        new_nu = 1.0 / (meas_sum[mj] - mu)
        delta = float(np.max(np.abs(new_nu - nu))) if nu.size else 0.0
        nu = new_nu
        if delta < tol:
            break
    track_sum = miss_w.copy()
    np.add.at(track_sum, ti, pair_w * nu)
    pair_beta = pair_w * nu / track_sum[ti]
    miss_beta = miss_w / track_sum
    return pair_beta, miss_beta
