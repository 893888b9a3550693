import pytest

from lecturekit import profile


def test_default_is_lite():
    assert profile.active() == "lite"
    assert not profile.downloads_allowed()


def test_env_selects_full_and_offline_forbids_downloads(monkeypatch):
    monkeypatch.setenv("LECTUREKIT_PROFILE", "FULL")
    assert profile.active() == "full"
    assert profile.downloads_allowed()
    monkeypatch.setenv("LECTUREKIT_OFFLINE", "1")
    assert not profile.downloads_allowed()


def test_unknown_profile_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("LECTUREKIT_PROFILE", "gpu")
    with pytest.raises(ValueError, match=r"unknown profile 'gpu'.*lite, full"):
        profile.active()
    with pytest.raises(ValueError, match="from argument"):
        profile.active("medium")


def test_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "elsewhere"))
    assert profile.cache_dir() == tmp_path / "elsewhere"
    assert (tmp_path / "elsewhere").is_dir()


def test_standin_mode_never_downloads(monkeypatch):
    monkeypatch.setenv("LECTUREKIT_PROFILE", "full")
    assert profile.downloads_allowed()
    monkeypatch.setenv("LECTUREKIT_STANDIN", "1")
    assert profile.is_standin() and not profile.downloads_allowed()


def test_check_both_ways(tmp_path, monkeypatch):
    assert profile.check_standin(tmp_path, "things") is None  # a real folder in a real run
    monkeypatch.setenv("LECTUREKIT_STANDIN", "1")
    with pytest.raises(FileNotFoundError, match="no stand-in things"):
        profile.check_standin(tmp_path, "things")
    (tmp_path / profile.STANDIN_MARKER).write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        profile.check_standin(tmp_path, "things")


@pytest.mark.parametrize(
    "value, on",
    [("1", True), (" TRUE ", True), ("Yes", True), ("0", False), ("", False), (None, False), ("on", False)],
)
def test_every_switch_reads_1_true_yes_in_any_case_and_nothing_else(monkeypatch, value, on):
    from lecturekit import progress

    monkeypatch.setenv("LECTUREKIT_PROFILE", "full")
    for name in ("LECTUREKIT_FLAG_TEST", "LECTUREKIT_OFFLINE", "LECTUREKIT_STANDIN", "LECTUREKIT_PROGRESS"):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert profile.flag("LECTUREKIT_FLAG_TEST") is on
    assert profile.is_standin() is on and progress.enabled() is on
    assert profile.downloads_allowed() is not on  # offline (or a stand-in run) forbids downloads


def test_no_module_reads_a_switch_but_through_flag():
    """One reading of 1/true/yes: a module with its own check would drift from it (e.g. accept "on")."""
    import re
    from pathlib import Path

    src = Path(profile.__file__).parent
    own = [
        f"{p.relative_to(src)}:{n}"
        for p in sorted(src.rglob("*.py"))
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"""["']true["'],\s*["']yes["']""", line) and p.name != "profile.py"
    ]
    assert own == []
