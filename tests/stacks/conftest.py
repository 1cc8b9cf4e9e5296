"""The config fuzzer's run (test_fuzz.py) starts as soon as collection has found it, beside the rest of the suite."""

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    # The module as pytest imported it (importlib mode: an import from here would load a second copy).
    fuzz = next((item.module for item in session.items if item.path.name == "test_fuzz.py"), None)  # type: ignore[attr-defined]
    if fuzz is not None:
        session.config.stash[fuzz.FUZZ_RUN] = fuzz.start()
        session.config.stash[_STOP] = fuzz.FUZZ_RUN


_STOP = pytest.StashKey[pytest.StashKey]()


def pytest_unconfigure(config: pytest.Config) -> None:
    key = config.stash.get(_STOP, None)
    run = config.stash.get(key, None) if key is not None else None
    if run is not None:  # a session that stopped before the fixture waited for it
        run.stop()
