"""Online mode over 50 images on loopback: a cold run and a cached run, requests and time.

    python bench/online.py [--images 50] [--runs 5]

Starts Debian's ``docker-registry`` on 127.0.0.1 (its own config and storage in a temporary
directory; nothing else is contacted), pushes ``--images`` images built in this process (half
multi-platform indexes, half single manifests, and among them every problem VIL013-VIL015
finds: missing tags with near tags, a missing repository, arm64-only images, stale pins), writes
one ``valohai.yaml`` naming them all, and runs the linter as a whole process:

- cold: ``--online`` with an empty cache (every answer from the registry);
- cached: ``--online`` again with the cache the cold run filled (no request at all);
- offline: ``--offline`` with that cache.

Each case runs ``--runs`` times (a fresh cache per cold run). Reported: the median wall time,
the median CPU time (the linter process's user + system time, which a busy machine does not
inflate), the requests per image counted from ``--verbose``'s lookup lines, and the findings
by rule, which must be the same in every case. Needs ``docker-registry`` (Debian:
``apt-get install -y docker-registry``); the images come from
``tests/online/registry_support.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "online"))

from registry_support import (  # noqa: E402
    REGISTRY_BIN,
    RegistryProcess,
    make_image,
    make_index,
    push_image,
    push_manifest,
)

LOOKUP_RE = re.compile(r"^lookup (\S+): .*; (\d+) requests, \d+ ms$")
EXPECTED_CODES = ("VIL013", "VIL014", "VIL015")


@dataclass(frozen=True)
class Case:
    name: str
    seconds: float
    cpu_seconds: float  # the linter process's user + system time: what load does not inflate
    requests: int
    lookups: int
    findings: dict[str, int]


def push_images(base: str, count: int) -> list[str]:
    """Push ``count`` images and return the references a valohai.yaml names (one each)."""
    host = base.split("://", 1)[1]
    problems = max(count // 10, 1)
    references = []
    for i in range(count - 3 * problems):
        repository = f"bench/app{i:03d}"
        if i % 2:
            image = make_image(f"bench-single-{i}", (2000,), oci=False)
            push_image(base, repository, image, "1.0")
        else:
            amd64 = make_image(f"bench-amd64-{i}", (3000, 1000), oci=True)
            arm64 = make_image(f"bench-arm64-{i}", (2500,), oci=True, architecture="arm64")
            for child in (amd64, arm64):
                push_image(base, repository, child, None)
            index = make_index([(amd64, {"os": "linux", "architecture": "amd64"}),
                                (arm64, {"os": "linux", "architecture": "arm64"})], oci=True)
            push_manifest(base, repository, "1.0", index)
        references.append(f"{host}/{repository}:1.0")
    for i in range(problems):
        # A typo of an existing tag (VIL013, with a suggestion), an arm64-only image (VIL014),
        # and a pin the tag has moved away from (VIL015).
        near = make_image(f"bench-near-{i}", (800,), oci=True)
        push_image(base, f"bench/near{i}", near, "2.2.0-cuda12.1-cudnn8-runtime")
        references.append(f"{host}/bench/near{i}:2.2.0-cuda12.1-cudnn8-runtim")
        arm = make_image(f"bench-arm-only-{i}", (900,), oci=False, architecture="arm64")
        push_image(base, f"bench/arm{i}", arm, "1.0")
        references.append(f"{host}/bench/arm{i}:1.0")
        old = make_image(f"bench-old-{i}", (700,), oci=False)
        new = make_image(f"bench-new-{i}", (710,), oci=False)
        push_image(base, f"bench/moving{i}", old, "1.0")
        push_image(base, f"bench/moving{i}", new, "1.0")
        references.append(f"{host}/bench/moving{i}:1.0@{old.manifest.digest}")
    return references


def run_linter(work: Path, mode: str, cache: Path) -> Case:
    settings = work / ".valohai-image-lint.toml"
    settings.write_text(f'cache-dir = "{cache}"\nmax-image-size = "1 GB"\n')
    # Bytecode caching on, as an installed wheel has it (see bench/run.py).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "valohai_image_lint", mode, "--verbose", "--format", "json",
         "--config", str(settings), str(work / "valohai.yaml")],
        capture_output=True, text=True, check=False, cwd=work, env=env)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode not in (0, 1):
        raise SystemExit(f"the linter failed ({completed.returncode}):\n{completed.stderr}")
    requests = lookups = 0
    for line in completed.stderr.splitlines():
        match = LOOKUP_RE.match(line)
        if match:
            lookups += 1
            requests += int(match.group(2))
    findings = Counter(item["code"] for item in json.loads(completed.stdout))
    return Case(mode, seconds, cpu, requests, lookups, dict(sorted(findings.items())))


def measure(images: int, runs: int) -> list[tuple[str, list[Case]]]:
    if REGISTRY_BIN is None:
        raise SystemExit("docker-registry is not installed (apt-get install -y docker-registry)")
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        registry = RegistryProcess(work, work / "storage", name="bench")
        try:
            references = push_images(registry.base, images)
            (work / "valohai.yaml").write_text("".join(
                f"- step:\n    name: step-{i}\n    image: {reference}\n    command: run\n"
                for i, reference in enumerate(references)))
            results: dict[str, list[Case]] = {"cold": [], "cached": [], "offline": []}
            run_linter(work, "--online", work / "warm-up")  # imports compiled, untimed
            for number in range(runs):
                cache = work / f"cache-{number}"
                results["cold"].append(run_linter(work, "--online", cache))
                results["cached"].append(run_linter(work, "--online", cache))
                results["offline"].append(run_linter(work, "--offline", cache))
        finally:
            registry.stop()
    for cases in results.values():
        for case in cases:
            if case.findings != results["cold"][0].findings:
                raise SystemExit(f"findings differ between runs: {case}")
    if not all(results["cold"][0].findings.get(code) for code in EXPECTED_CODES):
        raise SystemExit(f"expected findings of {EXPECTED_CODES}: {results['cold'][0]}")
    return list(results.items())


def report(images: int, runs: int, results: list[tuple[str, list[Case]]]) -> str:
    lines = [
        f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python"
        f" {platform.python_version()}; Debian docker-registry on 127.0.0.1; load average"
        f" {os.getloadavg()[0]:.2f} at the end.  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; median of {runs}"
        f" run(s), whole processes.  ",
        f"Command: `python bench/online.py --images {images} --runs {runs}`",
        "",
        "| run | median time | per image | CPU time | requests | requests per image |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, cases in results:
        seconds = statistics.median(case.seconds for case in cases)
        cpu = statistics.median(case.cpu_seconds for case in cases)
        requests = cases[0].requests
        lookups = max(cases[0].lookups, 1)
        label = {"cold": "cold (`--online`, empty cache)",
                 "cached": "cached (`--online` again)",
                 "offline": "`--offline` (the same cache)"}[name]
        lines.append(f"| {label} | {seconds * 1000:.0f} ms | {seconds * 1000 / images:.1f} ms"
                     f" | {cpu * 1000:.0f} ms | {requests} | {requests / lookups:.2f} |")
    findings = ", ".join(f"{code} x{count}" for code, count in results[0][1][0].findings.items())
    lines += ["", f"Findings (the same in every run): {findings}."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.images < 4 or args.runs < 1:
        parser.error("--images must be at least 4 and --runs at least 1")
    print(report(args.images, args.runs, measure(args.images, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
