"""The CI workflows: same commands as local, pinned actions, least privilege, no fork on the GPU.

Fast static checks of .github/; the real lite run of the targets the PR workflow calls is
`make test` itself, and tools/lint_workflows.sh runs actionlint and zizmor.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PR, FULL = WORKFLOWS / "pr.yml", WORKFLOWS / "full.yml"

# Run steps that are not `make <target>`: setup that has no local equivalent, each documented in
# the workflow beside it (and in docs/ci.md).
SETUP_COMMANDS = {
    FULL.name: {
        "Fingerprint the environment and the data manifest",  # cache keys: pip freeze, GPU, manifest
        "Download and verify data and weights",  # python -m lecturekit.download --profile full
        "Keep the last published build's manifest",  # cp: the comparison base of make results-diff
        "Push them as the single commit of the notebooks branch",  # git push of generated notebooks
    },
    PR.name: set(),
}
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+(?:\.\d+){0,2}\b")
# Write scopes, per job: deploy-pages in the job that deploys; the generated notebooks branch in
# the job that publishes it (and runs no project code).
WRITE_ALLOWED = {"deploy": {"pages", "id-token"}, "notebooks": {"contents"}}


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(wf: dict) -> dict:
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {name: None for name in on}
    return dict(on)


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def make_targets(command: str) -> list[str] | None:
    """The targets of a `make t1 t2` command line, or None if it is anything else."""
    words = command.strip().split()
    if len(words) < 2 or words[0] != "make" or "\n" in command.strip():
        return None
    return [w for w in words[1:] if "=" not in w and not w.startswith("-")]


def test_workflows_exist_and_parse():
    assert {p.name for p in workflow_files()} >= {"pr.yml", "full.yml"}
    for path in workflow_files():
        wf = load(path)
        assert wf.get("name") and wf.get("jobs"), path.name


def test_no_pull_request_target_anywhere():
    for path in workflow_files():
        assert "pull_request_target" not in triggers(load(path)), path.name
        assert "pull_request_target" not in path.read_text(), path.name


def test_every_action_is_pinned_by_sha_with_version_comment():
    seen = set()
    for path in [*workflow_files(), *(ROOT / ".github").glob("actions/**/action.y*ml")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = USES.match(line)
            if not m:
                continue
            ref = m["ref"].strip("'\"")
            if ref.startswith("./"):
                continue
            where = f"{path.name}:{number}: {line.strip()}"
            assert PINNED.match(ref), f"not pinned to a full commit SHA: {where}"
            assert VERSION_COMMENT.match(m["rest"]), f"no '# vX.Y.Z' version comment: {where}"
            seen.add(ref.split("@")[0])
    assert {
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
        "actions/upload-pages-artifact",
        "actions/deploy-pages",
    } <= seen


def test_same_action_same_sha_everywhere():
    pins: dict[str, set[str]] = {}
    for path in workflow_files():
        for line in path.read_text().splitlines():
            m = USES.match(line)
            if m and "@" in m["ref"]:
                repo = "/".join(m["ref"].split("@")[0].split("/")[:2])
                pins.setdefault(repo, set()).add(m["ref"].split("@")[1])
    assert {repo: shas for repo, shas in pins.items() if len(shas) > 1} == {}


def test_every_job_has_timeout_and_least_privilege_permissions():
    for path in workflow_files():
        wf = load(path)
        assert wf.get("permissions") == {}, f"{path.name}: top-level permissions must be {{}} (none)"
        for name, job in wf["jobs"].items():
            where = f"{path.name}:{name}"
            timeout = job.get("timeout-minutes")
            assert isinstance(timeout, int) and 0 < timeout <= 360, f"{where}: timeout-minutes {timeout!r}"
            perms = job.get("permissions")
            assert isinstance(perms, dict), f"{where}: permissions must be listed per job"
            for scope, level in perms.items():
                assert level in ("read", "write", "none"), f"{where}: {scope}: {level}"
                if level == "write":
                    assert scope in WRITE_ALLOWED.get(name, ()), f"{where}: {scope}: write is not needed"
                    if scope in ("pages", "id-token"):
                        assert any("deploy-pages" in s.get("uses", "") for s in steps(job)), (
                            f"{where}: write permission in a job that does not deploy"
                        )


def test_notebooks_job_only_pushes_the_generated_branch():
    """The one job that may write to the repository: no checkout, no project code, one branch."""
    job = load(FULL)["jobs"]["notebooks"]
    assert job["needs"] == "build" and job["if"] == "github.ref == 'refs/heads/main'"
    assert job["permissions"] == {"contents": "write"}
    uses = [s.get("uses", "") for s in steps(job)]
    assert not any("actions/checkout" in u for u in uses), "the notebooks job must not check out (run) project code"
    assert any(u.startswith("actions/download-artifact@") for u in uses)
    (push,) = [s["run"] for s in steps(job) if "run" in s]
    assert "make" not in push.split() and "python" not in push
    pushes = [line for line in push.splitlines() if "git push" in line]
    assert len(pushes) == 1 and pushes[0].rstrip().endswith(" notebooks")
    build = load(FULL)["jobs"]["build"]
    assert build["env"]["BOOK_REPOSITORY"] == "${{ github.repository }}"
    assert any(s.get("with", {}).get("name") == "reader-notebooks" for s in steps(build))


def test_checkout_does_not_persist_credentials():
    for path in workflow_files():
        for name, job in load(path)["jobs"].items():
            for step in steps(job):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}:{name}"


def test_pull_requests_never_reach_a_self_hosted_runner():
    for path in workflow_files():
        wf = load(path)
        if "pull_request" not in triggers(wf):
            continue
        for name, job in wf["jobs"].items():
            runs_on = job["runs-on"]
            labels = runs_on if isinstance(runs_on, list) else [runs_on]
            assert not any("self-hosted" in str(label) or "GPU_RUNNER" in str(label) for label in labels), (
                f"{path.name}:{name} runs pull requests on {runs_on}"
            )
            assert str(labels[0]).startswith("ubuntu-"), f"{path.name}:{name}: {runs_on}"


def test_run_steps_are_make_targets_that_exist():
    """Each run step is `make <target>` (so the workflow and the local path cannot drift apart)."""
    for path in workflow_files():
        for name, job in load(path)["jobs"].items():
            for step in steps(job):
                if "run" not in step:
                    continue
                targets = make_targets(step["run"])
                if targets is None:
                    assert step.get("name") in SETUP_COMMANDS[path.name], (
                        f"{path.name}:{name}: run step is not `make <target>` nor a documented setup: {step}"
                    )
                    continue
                for target in targets:
                    done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
                    assert done.returncode == 0, f"{path.name}: make {target}: {done.stderr}"


def test_pr_workflow_is_the_local_test_command():
    wf = load(PR)
    assert set(triggers(wf)) == {"pull_request"}
    assert set(wf["jobs"]) == {"lite", "full-standin"}
    job = wf["jobs"]["lite"]
    assert [make_targets(s["run"]) for s in steps(job) if "run" in s] == [
        ["venv"],
        ["test"],
        ["notebook-check"],
        ["results-diff"],
    ]
    assert job.get("env", {}).get("LECTUREKIT_PROFILE") == "lite"
    # `make test` is unit tests + strict build + nbval.
    rule = re.search(r"^test:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert rule and {"unit", "build-strict", "nbval"} <= set(rule.group(1).split())
    for job in wf["jobs"].values():
        report = [s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact@")]
        assert report and report[0]["if"] == "failure()"
    # The PDFs: make test's site-check builds them first (make pdf), and the job uploads them.
    site_check = re.search(r"^site-check:(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert site_check and "pdf" in site_check.group(1).split() and "site-check" in rule.group(1).split()
    uploads = [s["with"]["path"] for s in steps(wf["jobs"]["lite"]) if s.get("uses", "").startswith("actions/upload-a")]
    assert "_build/html/_pdf" in uploads


def test_pr_workflow_runs_the_full_profile_on_standins():
    """Every pull request executes every chapter in `full` on stand-in files (make full-standin)."""
    job = load(PR)["jobs"]["full-standin"]
    assert [make_targets(s["run"]) for s in steps(job) if "run" in s] == [["venv"], ["full-standin"]]
    assert job["runs-on"] == "ubuntu-24.04"
    rule = re.search(r"^full-standin:.*\n((?:\t.*\n|.*\\\n)+)", (ROOT / "Makefile").read_text(), re.M)
    recipe = rule.group(1)
    # Stand-ins are generated (never downloaded) into their own folder, then every chapter executes
    # in the full profile, strictly, in stand-in mode, offline; nothing is rendered.
    assert "-m lecturekit.standin" in recipe and "_build/standin" not in recipe.replace("$(STANDIN)", "")
    for setting in (
        "LECTUREKIT_PROFILE=full",
        "LECTUREKIT_STANDIN=1",
        "LECTUREKIT_OFFLINE=1",
        "LECTUREKIT_CACHE=$(STANDIN)/",
        "TORCH_HOME=$(STANDIN)/",
    ):
        assert setting in recipe, setting
    assert "-m bookbuild execute --strict" in recipe and "bookbuild build" not in recipe
    assert re.search(r"^STANDIN := \$\(CURDIR\)/\$\(BUILD\)/standin$", (ROOT / "Makefile").read_text(), re.M)


def test_full_workflow_builds_on_gpu_and_publishes_only_success():
    wf = load(FULL)
    on = triggers(wf)
    assert set(on) == {"push", "schedule", "workflow_dispatch"}
    assert on["push"]["branches"] == ["main"] and on["schedule"]
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    assert build["env"]["LECTUREKIT_PROFILE"] == "full"
    assert "self-hosted" in build["runs-on"]
    # The GPU label is configured in one place: the GPU_RUNNER_LABEL repository variable.
    assert FULL.read_text().count("vars.GPU_RUNNER_LABEL") == 1
    runs = [s["run"] for s in steps(build) if "run" in s]
    assert "make test FULL=1" in runs  # nbval validates every chapter on main
    assert ".venv/bin/python -m lecturekit.download --profile full" in runs
    uses = [s.get("uses", "").split("@")[0] for s in steps(build)]
    assert uses.index("actions/upload-pages-artifact") > [s.get("run") for s in steps(build)].index("make test FULL=1")
    failure_reports = [s for s in steps(build) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert failure_reports and failure_reports[0]["if"] == "failure()"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in steps(deploy))
    assert "pages" in deploy["concurrency"]["group"] and deploy["concurrency"]["cancel-in-progress"] is False
    assert wf["concurrency"]["cancel-in-progress"] is False
    assert build["permissions"] == {"contents": "read"}


HASH_FILES = re.compile(r"hashFiles\(([^)]*)\)")


def hashed_patterns(expression: str) -> list[list[str]]:
    """The patterns of each ``hashFiles(...)`` call in a key expression, in order."""
    return [[p.strip().strip("'\"") for p in call.split(",")] for call in HASH_FILES.findall(expression)]


def test_full_execution_cache_key_covers_library_data_and_environment():
    build = load(FULL)["jobs"]["build"]
    restore = next(s for s in steps(build) if s.get("id") == "exec-cache")
    key = restore["with"]["key"]
    restore_keys = [k.strip() for k in restore["with"]["restore-keys"].splitlines() if k.strip()]
    for part in ("steps.fingerprint.outputs.env", "steps.fingerprint.outputs.data", "runner.os", "runner.arch"):
        assert part in key, part
    prefix_files, chapter_files = hashed_patterns(key)
    # The exact key: a changed tree (sources, settings, chapters) saves a new entry.
    assert prefix_files == ["pyproject.toml", "src/**/*.py", "_config.yml", "Makefile"]
    assert chapter_files == ["book/**", "_toc.yml"]
    # A partial match may differ in the library and chapters (the store's content keys decide what
    # re-executes; tests/test_nbval_loop.py), never in environment or data.
    assert restore_keys == [key[: key.index("${{ hashFiles(")]]
    assert restore_keys[0].endswith("${{ steps.fingerprint.outputs.data }}-")


def test_exec_cache_key_ignores_bytecode_and_covers_bookbuild(tmp_path):
    """The prefix patterns, matched as hashFiles does, take every source file and no __pycache__ file.

    The fingerprint step imports the library before the key is computed, which writes
    ``__pycache__/*.pyc`` files; they record their source's modification time, which every fresh
    checkout sets anew, so hashing them would change the key on every runner.
    """
    build = load(FULL)["jobs"]["build"]
    restore = next(s for s in steps(build) if s.get("id") == "exec-cache")
    prefix_files = hashed_patterns(restore["with"]["key"])[0]
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py"))
    tree = tmp_path / "checkout"
    for rel in [
        *sources,
        "src/lecturekit/__pycache__/encoders.cpython-311.pyc",
        "src/bookbuild/__pycache__/cli.cpython-311.pyc",
        "src/lecturekit.egg-info/SOURCES.txt",
        "pyproject.toml",
        "Makefile",
        "_config.yml",
    ]:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("x")
    matched = set()
    for pattern in prefix_files:  # hashFiles globs: ** spans folders, * stays within one
        matched |= {str(p.relative_to(tree)) for p in tree.glob(pattern) if p.is_file()}
    assert {"src/bookbuild/deps.py", "src/bookbuild/cli.py", "src/lecturekit/encoders.py"} <= matched
    assert set(sources) <= matched
    assert not any("__pycache__" in m or m.endswith(".pyc") or "egg-info" in m for m in matched)


def test_full_caches_use_workspace_relative_paths():
    """actions/cache versions an entry by its path strings: absolute workspace paths miss on other runners."""
    build = load(FULL)["jobs"]["build"]
    env = build["env"]
    for name, rel in (("LECTUREKIT_CACHE", "_build/lecturekit-cache"), ("TORCH_HOME", "_build/torch-home")):
        assert env[name] == "${{ github.workspace }}/" + rel
    assert env["LECTUREKIT_STANDIN"] == "0"
    caches = [
        s for s in steps(build) if s.get("uses", "").startswith(("actions/cache/restore@", "actions/cache/save@"))
    ]
    assert len(caches) == 4
    for step in caches:
        paths = [p.strip() for p in step["with"]["path"].splitlines() if p.strip()]
        for p in paths:
            assert not p.lstrip("!").startswith("/") and "${{" not in p, f"{step.get('name')}: {p}"
    data = [s for s in caches if s.get("id") == "data-cache" or "steps.data-cache." in s["with"]["key"]]
    assert len(data) == 2
    for step in data:  # exactly where lecturekit.download puts the manifest's files
        assert [p.strip() for p in step["with"]["path"].splitlines() if p.strip()] == [
            "_build/lecturekit-cache/data/MNIST",
            "_build/torch-home/hub/checkpoints",
        ]
    from lecturekit import download

    roots = {"cache": "_build/lecturekit-cache", "hub": "_build/torch-home/hub"}
    for item in download.manifest():
        assert any(
            f"{roots[item.root]}/{item.path}".startswith(p + "/")
            for p in ["_build/lecturekit-cache/data/MNIST", "_build/torch-home/hub/checkpoints"]
        ), item.path
    fingerprint = next(s for s in steps(build) if s.get("id") == "fingerprint")["run"]
    assert "pip freeze" in fingerprint and "nvidia-smi" in fingerprint and "--manifest" in fingerprint
    saves = [s for s in steps(build) if s.get("uses", "").startswith("actions/cache/save@")]
    exec_save = next(s for s in saves if "exec-cache" in s["with"]["key"])
    assert exec_save["if"].startswith("success()")


def test_dependabot_covers_actions_and_pip():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    assert {u["package-ecosystem"] for u in config["updates"]} >= {"github-actions", "pip"}


@pytest.mark.skipif(
    not (shutil.which("actionlint") or (ROOT / ".venv/bin/actionlint").exists())
    or not (shutil.which("zizmor") or (ROOT / ".venv/bin/zizmor").exists()),
    reason="actionlint/zizmor not installed",
)
def test_lint_script_rejects_an_unsafe_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "name: bad\non: pull_request_target\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        '      - uses: actions/checkout@v4\n      - run: echo "${{ github.event.pull_request.title }}"\n'
    )
    done = subprocess.run(
        ["bash", str(ROOT / "tools" / "lint_workflows.sh"), str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "dangerous-triggers" in done.stdout + done.stderr


def test_pr_summary_compares_with_the_base_branch_built_from_the_same_store():
    """The report of `bookbuild diff` goes to the job summary; the base is a read-only checkout."""
    job = load(PR)["jobs"]["lite"]
    names = [s.get("name", s.get("uses", "")) for s in steps(job)]
    base = next(s for s in steps(job) if s.get("with", {}).get("path") == "_build/base-checkout")
    assert base["with"]["ref"] == "${{ github.base_ref }}" and base["with"]["persist-credentials"] is False
    diff = next(s for s in steps(job) if "results-diff" in s.get("run", ""))
    assert diff["run"] == "make results-diff BASE=_build/base-checkout"
    assert names.index(base["name"]) > names.index("Unit tests, strict book build (warnings are errors), nbval")
    assert names.index(diff["name"]) > names.index(base["name"])
    assert diff.get("continue-on-error") is True  # a broken base never blocks the fix
    assert job["permissions"] == {"contents": "read"}
    recipe = subprocess.run(
        ["make", "-n", "results-diff", "BASE=.", "GITHUB_STEP_SUMMARY=/tmp/summary.md"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert '-m bookbuild diff "." --execute-base' in recipe and '--output "/tmp/summary.md"' in recipe
    assert "--format markdown" in recipe and "--threshold 5%" in recipe


def test_full_build_compares_with_the_last_published_build():
    build = load(FULL)["jobs"]["build"]
    names = [s.get("name", "") for s in steps(build)]
    keep = names.index("Keep the last published build's manifest")
    assert (
        names.index("Restore the execution cache")
        < keep
        < names.index("Unit tests, strict book build (warnings are errors), nbval")
    )
    assert "cp _build/exec-manifest.json _build/published-manifest.json" in steps(build)[keep]["run"]
    assert build["env"]["BOOKBUILD_DIFF_BASE"] == "${{ github.workspace }}/_build/published-manifest.json"
    summary = next(s for s in steps(build) if "results-diff" in s.get("run", ""))
    assert summary["run"] == "make results-diff BASE=_build/published-manifest.json"
    assert "hashFiles('_build/published-manifest.json')" in summary["if"]
