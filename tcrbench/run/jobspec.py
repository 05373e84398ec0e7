"""What a parallel executor's workers get from the driver: the run as plain data (`executors.job.JobSpec`), or a
one-line refusal when a worker could not rebuild the same run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tcrbench.errors import UsageError
from tcrbench.executors.job import JobSpec, plugin_fingerprint

if TYPE_CHECKING:
    from tcrbench.run.runner import Runner


def job_spec(runner: Runner) -> JobSpec:
    """Plain data a parallel executor's workers rebuild this run from (after `setup()` and `cells()`).

    Refused when a worker could not rebuild the same run: plugins registered in this process only, plugin
    files from several folders, or a batch observer (a callback that sees batches in this process only).
    """
    from tcrbench.plugins.loader import _env_list

    if runner.observe_pretrain_batch is not None:
        raise UsageError("observe_pretrain_batch sees batches in this process only: use the serial executor")
    sources = runner.plugins.sources
    dirs = set()
    for name, src in sources.items():
        if src.origin != "file":
            continue
        file = Path(src.detail.split(" sha256:")[0])
        if not file.is_file():
            raise UsageError(
                f"plugin {name!r} was registered in-process ({src}); parallel executors rebuild the plugins in"
                " each worker, so put it in a --plugins-dir file or an installed package"
            )
        dirs.add(str(file.resolve().parent))
    if len(dirs) > 1:
        raise UsageError(
            f"plugin files come from several folders ({', '.join(sorted(dirs))});"
            " parallel executors load one --plugins-dir"
        )
    return JobSpec(
        cfg=runner.cfg,
        out=str(Path(runner.path).resolve()),
        config_hash=runner.config_hash,
        n_cells=len(runner._cells),
        builtins=tuple(n for n, s in sources.items() if s.origin == "built-in"),
        entry_points=any(s.origin == "distribution" for s in sources.values()),
        plugins_dir=next(iter(dirs), None),
        disabled=tuple(sorted(_env_list("TCRBENCH_DISABLE_PLUGINS"))),
        plugin_sources=plugin_fingerprint(sources),
    )
