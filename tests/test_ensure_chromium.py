"""`make test` installs the browser it needs when it can, and otherwise says how (tools/ensure_chromium.sh).

The script runs with a PATH holding only stand-ins for ``id`` and ``apt-get``, so no test touches
the real system: the fake apt-get records its arguments and "installs" a fake chromium.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "ensure_chromium.sh"


@pytest.fixture
def fake_bin(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return bin_dir


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/bash\n" + body + "\n")
    path.chmod(0o755)


def run(bin_dir: Path, uid: int, apt: str | None) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = bin_dir.parent / "apt.log"
    stub(bin_dir, "id", f'[ "$1" = -u ] && echo {uid}')
    if apt is not None:
        stub(bin_dir, "apt-get", f'echo "$*" >> {log}\n{apt}')
    done = subprocess.run(["/bin/bash", str(SCRIPT)], env={"PATH": str(bin_dir)}, capture_output=True, text=True)
    calls = log.read_text().splitlines() if log.exists() else []
    return done, calls


INSTALLS = (
    'if [ "$1" = install ]; then printf "#!/bin/bash\\n" > "${0%/*}/chromium"; /bin/chmod +x "${0%/*}/chromium"; fi'
)


def test_present_browser_is_left_alone(fake_bin):
    stub(fake_bin, "google-chrome", "true")
    done, calls = run(fake_bin, uid=0, apt=INSTALLS)
    assert done.returncode == 0 and calls == []


def test_root_with_apt_installs_debian_chromium(fake_bin):
    done, calls = run(fake_bin, uid=0, apt=INSTALLS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls == ["update -qq", "install -y -qq chromium"]
    assert "installed" in done.stdout and (fake_bin / "chromium").exists()


def test_non_root_gets_the_exact_command(fake_bin):
    done, calls = run(fake_bin, uid=1000, apt=INSTALLS)
    assert done.returncode == 1 and calls == []
    assert "sudo apt-get update && sudo apt-get install -y chromium" in done.stderr


def test_no_apt_get_says_what_is_needed(fake_bin):
    done, calls = run(fake_bin, uid=0, apt=None)
    assert done.returncode == 1
    assert "no apt-get" in done.stderr and "chromium" in done.stderr


def test_failed_install_fails(fake_bin):
    done, _ = run(
        fake_bin,
        uid=0,
        apt='[ "$1" = install ] && { echo "E: Unable to locate package chromium" >&2; exit 100; }; true',
    )
    assert done.returncode == 100 and "Unable to locate package" in done.stderr


def test_install_without_a_browser_command_fails(fake_bin):
    done, calls = run(fake_bin, uid=0, apt="true")
    assert done.returncode == 1 and calls == ["update -qq", "install -y -qq chromium"]
    assert "no chromium" in done.stderr
