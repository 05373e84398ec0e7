"""Speed and memory of the loss kernels, as ratios against references measured in the same run.

    pytest benchmarks/test_bench_kernels.py --benchmark-only

prints the ratio table at the end (and writes it to .benchmarks/kernel_table.md, or to
$TCRBENCH_KERNEL_TABLE). Torch runs with 2 threads (override: TCRBENCH_BENCH_THREADS), d = 128, T = 0.1.
Every timed step is a forward plus a backward. Ratios use each benchmark's fastest round: on a shared
machine the other processes only ever add time, so the minimum is the least disturbed measurement.

References: the study's implementation (benchmarks/study_reference.py), a plain matmul + cross-entropy,
pytorch-metric-learning's and lightly's NTXentLoss (benchmark-only dependencies: skipped when missing),
and the compute floor: the two matrix products no exact loss can avoid (z·zᵀ and the gradient product
G·z) on preallocated buffers. References whose memory need exceeds this machine are not run: their need is
computed from a model that the memory benchmarks check against a measured peak at a small N.

Peak memory is measured in a fresh subprocess (``python benchmarks/test_bench_kernels.py peak ...``) as
the peak resident set size (VmHWM, reset after a warm-up) minus the resident size just before the step,
so it counts everything the step allocates, gradients included, and nothing the inputs already held.
"""

from __future__ import annotations

import os
import sys

# On a shared machine, OpenMP threads that spin while waiting make every parallel region wait for a time
# slice of the peer they spin for: measured here, a 5×9 matmul took 16 ms with 2 threads instead of 10 µs.
# Passive waiting removes that artefact for every implementation alike. It is read when torch loads
# OpenMP, so it only takes effect if this module imports torch first; the table records which applied.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
OMP_POLICY = os.environ.get("OMP_WAIT_POLICY", "default") if "torch" not in sys.modules else "unknown"

import importlib  # noqa: E402
import importlib.abc  # noqa: E402
import importlib.machinery  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_reference import StudyNTXent, study_mask_one, study_memory_bytes  # noqa: E402

from tcrbench.data.vocab import VOCAB_SIZE  # noqa: E402
from tcrbench.kernels import masked_lm_loss, nt_xent  # noqa: E402
from tcrbench.kernels.reference import masked_lm_all_positions  # noqa: E402

THREADS = int(os.environ.get("TCRBENCH_BENCH_THREADS", "2"))
torch.set_num_threads(THREADS)
D, T = 128, 0.1
REPO = Path(__file__).resolve().parents[1]
TABLE = Path(os.environ.get("TCRBENCH_KERNEL_TABLE", REPO / ".benchmarks" / "kernel_table.md"))
GIB = 2**30
HEADROOM = 4 * GIB  # left to the rest of the machine when deciding whether a reference can run

_times: dict[str, float] = {}  # key -> fastest round, seconds
_notes: dict[str, str] = {}  # key -> why it was not timed
_memory: dict[str, float] = {}  # key -> bytes


# ------------------------------------------------------------------------------------------ references


def pml_memory_bytes(n: int) -> int:
    """pytorch-metric-learning's NTXentLoss compares every positive pair with every negative pair: tensors of
    (2N) × (2N)(2N − 2) entries. Measured peak ≈ 4.3 of them (float32) at N = 64..128; the benchmarks
    re-check it at N = 128."""
    m = 2 * n
    return int(4.3 * m * m * (m - 2) * 4)


def _mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


class _StubTorchvision(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Stands in for torchvision while lightly's loss module is imported.

    lightly imports torchvision at package level (for image ops its NT-Xent loss never calls), and
    torchvision has no CPU build matching this torch. Any attribute is a placeholder class that refuses to
    be instantiated, so a code path that really needed torchvision would fail loudly, not silently.
    """

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []

        def placeholder(attr: str):
            if attr.startswith("__"):
                raise AttributeError(attr)

            def refuse(*_a, **_k):
                raise RuntimeError(f"torchvision stub: {spec.name}.{attr} is not available in this benchmark")

            return type(attr, (), {"__init__": refuse})

        module.__getattr__ = placeholder
        return module

    def exec_module(self, module) -> None:
        pass


def lightly_ntxent() -> type:
    try:
        importlib.import_module("lightly")
    except ModuleNotFoundError:
        pytest.skip("lightly is not installed (benchmark-only dependency: pip install --no-deps lightly)")
    try:
        from lightly.loss import NTXentLoss
        return NTXentLoss
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("torchvision"):
            raise
    stub = _StubTorchvision()
    sys.meta_path.insert(0, stub)
    try:
        for name in [m for m in sys.modules if m == "lightly" or m.startswith("lightly.")]:
            del sys.modules[name]  # a half-finished import from the first attempt
        from lightly.loss import NTXentLoss
    finally:
        sys.meta_path.remove(stub)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    return NTXentLoss


def plain_ntxent(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """What one writes without thinking about speed: matmul, -inf diagonal, cross-entropy."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.t() / T).fill_diagonal_(float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(logits, labels)


def make_floor(m: int, d: int = D) -> Callable[[], None]:
    """The two products of shape (m × d)·(d × m) and (m × m)·(m × d), on preallocated buffers; above 8192
    rows in row blocks of 2048 (same arithmetic, without a 4 GiB matrix)."""
    g = torch.Generator().manual_seed(0)
    z, dz = torch.randn(m, d, generator=g), torch.empty(m, d)
    block = m if m <= 8192 else 2048
    s = torch.empty(block, m)

    def floor() -> None:
        for i in range(0, m, block):
            rows = s[: min(block, m - i)]
            torch.mm(z[i: i + block], z.t(), out=rows)
            torch.mm(rows, z, out=dz[i: i + block])

    return floor


def _pairs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, D, generator=g)
    z2 = z1 + 0.5 * torch.randn(n, D, generator=g)
    return z1.requires_grad_(), z2.requires_grad_()


def _step(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z1, z2) -> Callable[[], float]:
    def step() -> float:
        z1.grad = z2.grad = None
        loss = loss_fn(z1, z2)
        loss.backward()
        return float(loss.detach())

    return step


def _time(benchmark, key: str, fn: Callable[[], object], rounds: int, warmup: int = 1,
          floor: tuple[str, Callable[[], None]] | None = None):
    """Time ``fn``; with ``floor=(key, floor_fn)`` the floor runs (and is timed) right before every round.

    Interleaving matters for the long steps: the load of a shared machine drifts over minutes, and a floor
    measured a minute apart from the step it is compared with would carry that drift into the ratio.
    """
    setup = None
    if floor is not None:
        floor_key, floor_fn = floor

        def setup() -> None:
            start = time.perf_counter()
            floor_fn()
            _times[floor_key] = min(_times.get(floor_key, math.inf), time.perf_counter() - start)

    result = benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=warmup)
    if benchmark.stats is not None:
        _times[key] = benchmark.stats.stats.min
    return result


def _not_run(key: str, why: str) -> None:
    _notes[key] = why
    pytest.skip(why)


# ------------------------------------------------------------------------------------------ NT-Xent


SIZES = (256, 1024, 4096)
ROUNDS = {256: 30, 1024: 10, 4096: 4}
REFERENCES = ("ours", "plain", "lightly", "pml", "study")


@pytest.mark.parametrize("impl", REFERENCES)
@pytest.mark.parametrize("n", SIZES)
def test_ntxent(benchmark, n: int, impl: str) -> None:
    benchmark.group = f"ntxent N={n}"
    key = f"ntxent/{n}/{impl}"
    z1, z2 = _pairs(n)
    if impl == "ours":  # the floor is timed before each round of ours: see _time
        _time(benchmark, key, _step(lambda a, b: nt_xent(a, b, T), z1, z2), ROUNDS[n],
              floor=(f"ntxent/{n}/floor", make_floor(2 * n)))
        return
    if impl == "plain":
        loss_fn = plain_ntxent
    elif impl == "lightly":
        loss_fn = lightly_ntxent()(temperature=T)
    elif impl == "pml":
        losses = pytest.importorskip("pytorch_metric_learning.losses",
                                     reason="pytorch-metric-learning is not installed (benchmark-only dependency)")
        need = pml_memory_bytes(n)
        if need > _mem_available() - HEADROOM:
            _not_run(key, f"needs {need / GIB:,.0f} GiB (O(N³) pair tensors), {_mem_available() / GIB:.0f} GiB free")
        pml = losses.NTXentLoss(temperature=T)
        labels = torch.arange(n).repeat(2)
        loss_fn = lambda a, b: pml(torch.cat([a, b]), labels)
    else:  # study
        need = study_memory_bytes(n, D)
        if need > _mem_available() - HEADROOM:
            _not_run(key, f"needs {need / GIB:,.0f} GiB ((2N)²·d broadcast), {_mem_available() / GIB:.0f} GiB free")
        loss_fn = StudyNTXent(T)
    slow = impl in ("study", "pml")
    value = _time(benchmark, key, _step(loss_fn, z1, z2), 1 if slow else ROUNDS[n], 0 if slow else 1)
    expected = float(nt_xent(z1.detach(), z2.detach(), T))
    assert value == pytest.approx(expected, rel=2e-4), f"{impl} computes a different loss"


def test_ntxent_tiled_n16384(benchmark) -> None:
    benchmark.group = "ntxent N=16384"
    z1, z2 = _pairs(16384)
    _time(benchmark, "ntxent/16384/ours-tiled", _step(lambda a, b: nt_xent(a, b, T, impl="tiled"), z1, z2), 3,
          floor=("ntxent/16384/floor", make_floor(2 * 16384)))


# ------------------------------------------------------------------------------------------ memory


def _peak(kind: str, n: int, timeout: float = 900) -> dict:
    out = subprocess.run([sys.executable, __file__, "peak", kind, str(n)], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "TCRBENCH_BENCH_THREADS": str(THREADS)})
    if out.returncode != 0:
        raise RuntimeError(f"peak {kind} {n} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind, n", [("tiled", 16384), ("tiled", 65536), ("dense", 4096)])
def test_peak_memory(benchmark, kind: str, n: int) -> None:
    """One forward + backward in a subprocess; the time is that of the whole subprocess."""
    benchmark.group = "peak memory"
    result = benchmark.pedantic(_peak, args=(kind, n), rounds=1, iterations=1)
    _memory[f"{kind}/{n}"] = result["extra_bytes"]
    _times[f"step/{kind}/{n}"] = result["seconds"]
    benchmark.extra_info.update(result)


@pytest.mark.parametrize("kind, n", [("study", 256), ("pml", 128)])
def test_memory_model_of_infeasible_references(benchmark, kind: str, n: int) -> None:
    """Checks the models used to declare the study and pytorch-metric-learning infeasible at large N."""
    benchmark.group = "peak memory"
    if kind == "pml":
        pytest.importorskip("pytorch_metric_learning")
    result = benchmark.pedantic(_peak, args=(kind, n), rounds=1, iterations=1)
    model = study_memory_bytes(n, D) if kind == "study" else pml_memory_bytes(n)
    _memory[f"model/{kind}/{n}"] = result["extra_bytes"] / model
    assert 0.5 < result["extra_bytes"] / model < 2.0, "the memory model no longer describes the reference"


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _peak_main(kind: str, n: int) -> None:
    """Child process: warm up, reset the peak-RSS mark, measure one forward + backward.

    The peak is VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child
    of a pytest process that once held 12 GiB would report 12 GiB. Writing 5 to clear_refs resets VmHWM to
    the current resident size, so the warm-up's own peak does not count either.
    """
    if kind == "pml":
        from pytorch_metric_learning.losses import NTXentLoss
        pml = NTXentLoss(temperature=T)
        fn = lambda a, b: pml(torch.cat([a, b]), torch.arange(a.shape[0]).repeat(2))
    elif kind == "study":
        fn = StudyNTXent(T)
    else:
        fn = lambda a, b: nt_xent(a, b, T, impl=kind)
    _step(fn, *_pairs(16, seed=1))()  # libraries allocate their pools on first use
    z1, z2 = _pairs(n)
    z1.grad, z2.grad = torch.zeros_like(z1), torch.zeros_like(z2)  # counted as inputs, not as extra
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # older kernels: the warm-up's small peak stays in the mark
    before = _status_bytes("VmRSS")
    start = time.perf_counter()
    loss = fn(z1, z2)
    loss.backward()
    seconds = time.perf_counter() - start
    peak = _status_bytes("VmHWM")
    print(json.dumps({"extra_bytes": peak - before, "seconds": seconds, "loss": loss.item()}))


# ------------------------------------------------------------------------------------------ masked LM


class _BertHead(nn.Module):
    """BERT's prediction head: transform (dense, GELU, LayerNorm) then the projection to the vocabulary."""

    def __init__(self, hidden: int, vocab: int) -> None:
        super().__init__()
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(h))


@pytest.mark.parametrize("impl", ["gathered", "all-positions"])
def test_masked_lm(benchmark, impl: str) -> None:
    benchmark.group = "masked LM B=4096 L=40 H=128 15%"
    g = torch.Generator().manual_seed(0)
    b, length, hidden = 4096, 40, 128
    states = torch.randn(b, length, hidden, generator=g).requires_grad_()
    targets = torch.randint(0, VOCAB_SIZE, (b, length), generator=g)
    changed = torch.rand(b, length, generator=g) < 0.15
    head = _BertHead(hidden, VOCAB_SIZE)
    fn = masked_lm_loss if impl == "gathered" else masked_lm_all_positions

    def step() -> float:
        states.grad = None
        head.zero_grad(set_to_none=True)
        loss = fn(states, targets, changed, head)
        loss.backward()
        return float(loss.detach())

    value = _time(benchmark, f"mlm/{impl}", step, 10)
    with torch.no_grad():
        expected = masked_lm_all_positions(states, targets, changed, head).item()
    assert value == pytest.approx(expected, rel=1e-5)


# ------------------------------------------------------------------------------------------ mask1


@pytest.mark.parametrize("impl", ["vectorised", "study-loop"])
def test_mask_one(benchmark, impl: str) -> None:
    benchmark.group = "mask1 1024x34"
    if impl == "vectorised":
        try:
            from tcrbench.kernels.masking import mask_one
        except ImportError as err:
            _not_run("mask1/vectorised", f"tcrbench.kernels.masking.mask_one is not available yet ({err})")
    else:
        mask_one = study_mask_one
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, VOCAB_SIZE, (1024, 34), generator=g)
    lengths = torch.randint(12, 33, (1024, 1), generator=g)
    position = torch.arange(34)[None, :]
    allowed = (position >= 1) & (position < lengths)
    rng = torch.Generator().manual_seed(1)
    rounds, iterations = (30, 1) if impl == "study-loop" else (50, 20)
    result = benchmark.pedantic(mask_one, args=(ids, allowed, rng), rounds=rounds, iterations=iterations,
                                warmup_rounds=1)
    if benchmark.stats is not None:
        _times[f"mask1/{impl}"] = benchmark.stats.stats.min
    new_ids, changed = result
    assert bool((changed.sum(1) == 1).all()) and bool((changed <= allowed).all())
    assert bool((new_ids[~changed] == ids[~changed]).all())


# ------------------------------------------------------------------------------------------ the table


def _ratio(num: str, den: str) -> float | None:
    if num in _times and den in _times and _times[den] > 0:
        return _times[num] / _times[den]
    return None


def _row(what: str, value: str, goal: str, met: bool | None, note: str = "") -> str:
    mark = {True: "yes", False: "**no**", None: "n/a"}[met]
    return f"| {what} | {value} | {goal} | {mark} | {note} |"


def ratio_table() -> list[str]:
    rows = ["| measurement | measured | goal | met | note |", "|---|---|---|---|---|"]
    for n in SIZES:
        r = _ratio(f"ntxent/{n}/ours", f"ntxent/{n}/floor")
        rows.append(_row(f"dense fwd+bwd N={n} / two-product floor", f"{r:.2f}x" if r else "-",
                         "≤ 1.6x" if n == 4096 else "(for reference)", None if r is None or n != 4096 else r <= 1.6))
    for n in SIZES:
        for ref in ("plain", "lightly", "pml", "study"):
            key = f"ntxent/{n}/{ref}"
            r = _ratio(key, f"ntxent/{n}/ours")
            goal = "≥ 20x" if (ref == "study" and n == 1024) else "> 1x"
            bar = 20.0 if goal == "≥ 20x" else 1.0
            if r is not None:
                rows.append(_row(f"{ref} / ours, N={n}", f"{r:.1f}x faster", goal, r >= bar))
            elif key in _notes:
                rows.append(_row(f"{ref} / ours, N={n}", "cannot run", goal, True, _notes[key]))
    if "ntxent/4096/ours" in _times:
        rows.append(_row("ours at N=4096 (study cannot run)", f"{_times['ntxent/4096/ours']:.2f} s per step",
                         "runs", True, f"study needs {study_memory_bytes(4096, D) / GIB:,.0f} GiB"))
    r = _ratio("ntxent/16384/ours-tiled", "ntxent/16384/floor")
    rows.append(_row("tiled fwd+bwd N=16384 / floor", f"{r:.2f}x" if r else "-", "≤ 2x",
                     None if r is None else r <= 2.0))
    for key, goal, limit in (("tiled/16384", "< 256 MiB", 256 * 2**20), ("tiled/65536", "< 1 GiB", GIB),
                             ("dense/4096", "(for reference)", None)):
        if key in _memory:
            seconds = _times.get(f"step/{key}")
            rows.append(_row(f"peak extra memory, {key.replace('/', ' N=')}", f"{_memory[key] / 2**20:,.0f} MiB",
                             goal, None if limit is None else _memory[key] < limit,
                             f"one step {seconds:.1f} s" if seconds else ""))
    for kind, n in (("study", 256), ("pml", 128)):
        key = f"model/{kind}/{n}"
        if key in _memory:
            rows.append(_row(f"{kind} memory: measured / model, N={n}", f"{_memory[key]:.2f}", "≈ 1", None,
                             "the model behind 'cannot run'"))
    r = _ratio("mlm/all-positions", "mlm/gathered")
    rows.append(_row("masked LM: all positions / gathered", f"{r:.1f}x faster" if r else "-", "≥ 3x",
                     None if r is None else r >= 3))
    r = _ratio("mask1/study-loop", "mask1/vectorised")
    rows.append(_row("mask1: study loop / vectorised", f"{r:.0f}x faster" if r else "-", "≥ 100x",
                     None if r is None else r >= 100, _notes.get("mask1/vectorised", "")))
    return rows


@pytest.fixture(scope="module", autouse=True)
def _write_ratio_table(request):
    yield
    if not _times and not _memory:
        return
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    header = [f"torch {torch.__version__}, {THREADS} threads, OMP_WAIT_POLICY={OMP_POLICY}, d={D}, T={T}, "
              f"{time.strftime('%Y-%m-%d %H:%M')}, load average at the end {' '.join(load)}", ""]
    lines = header + ratio_table()
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text("\n".join(lines) + "\n")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(f"kernel ratio table (also in {TABLE}):")
        for line in lines:
            reporter.write_line(line)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "peak":
    _peak_main(sys.argv[2], int(sys.argv[3]))
