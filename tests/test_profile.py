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
