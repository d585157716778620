"""Progress bars for ssmx's long calls."""

from __future__ import annotations

from typing import Any, Callable, Optional


class _TqdmProgress:
    """A progress(fraction, stage) callable that drives a tqdm bar in percent."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def __call__(self, fraction: float, stage: str) -> bool:
        percent = round(100.0 * min(max(fraction, 0.0), 1.0), 1)
        if stage:
            self.bar.set_description_str(stage, refresh=False)
        self.bar.update(percent - self.bar.n)
        return True

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "_TqdmProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tqdm_progress(desc: Optional[str] = None, **tqdm_kwargs: Any) -> Callable[[float, str], bool]:
    """A progress callback for ssmx's long calls, shown as a tqdm bar (0..100 %).

    In a notebook with ipywidgets installed the bar is a widget, otherwise text.
    The bar's description follows the stage the C++ code reports. Use it as a context
    manager to close the bar::

        with ssmx.tqdm_progress("reading CT") as progress:
            ct = ssmx.ssm.read_volume(path, progress=progress).volume

    Raises ImportError when tqdm is not installed (Debian: python3-tqdm).
    """
    try:
        import ipywidgets  # noqa: F401  (tqdm.auto needs it for notebook widgets)
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm

    options = {"total": 100.0, "unit": "%", "desc": desc,
               "bar_format": "{desc}: {percentage:3.0f}%|{bar}| {elapsed}"}
    options.update(tqdm_kwargs)
    return _TqdmProgress(tqdm(**options))
