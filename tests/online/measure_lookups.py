"""Measure lookup latency and requests per image against real loopback registries.

    python tests/online/measure_lookups.py [--rounds N]

Starts ``docker-registry`` twice (anonymous, and token auth with a token server in this
process), pushes the test images, then looks every image up: cold (empty cache), warm (all
answers cached), and tag-expired (``cache-ttl = 0``: one HEAD, the size from the digest cache).
Prints the median latency and the requests per image for each case; loopback only, so the
numbers are the client's own cost plus the registry's, without network round trips.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from registry_support import (
    LoopbackServer,
    RegistryProcess,
    basic_auth_entry,
    docker_config,
    self_signed,
    token_handler,
)

from conftest import _catalogue, push_catalogue
from valohai_image_lint.config import Config
from valohai_image_lint.reference import parse_reference
from valohai_image_lint.registry import LookupRequest, lookup_images

REPOSITORIES = ["test/docker-single:1.0", "test/oci-single:1.0", "test/multi:1.0",
                "test/multi-docker:2.0"]


def measure(netloc: str, cache: Path, ttl: int) -> list[tuple[str, float, int]]:
    requests = [LookupRequest(parse_reference(f"{netloc}/{repo}"), True) for repo in REPOSITORIES]
    config = Config(cache_dir=str(cache), cache_ttl=ttl)
    err = io.StringIO()
    lookups = lookup_images(requests, config, offline=False, err=err, progress=False)
    assert err.getvalue() == "", err.getvalue()
    return [(key, info.seconds, info.requests) for key, info in lookups.answers.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        images = _catalogue()
        keys = self_signed("token signer")
        (work / "bundle.pem").write_bytes(keys.cert_pem)
        token_server = LoopbackServer(token_handler(keys))
        plain = RegistryProcess(work, work / "storage", name="plain")
        push_catalogue(plain.base, images)
        token = RegistryProcess(work, work / "storage", name="token",
                                token=(f"http://127.0.0.1:{token_server.port}/token",
                                       work / "bundle.pem"))
        os.environ["DOCKER_CONFIG"] = str(docker_config(work / "docker", {
            "auths": {token.netloc: basic_auth_entry()}}))
        try:
            print(f"{'registry':<8} {'case':<12} {'image':<24} {'median ms':>9} {'requests':>8}")
            for label, registry in (("anon", plain), ("token", token)):
                results: dict[tuple[str, str], list[tuple[float, int]]] = {}
                for round_number in range(rounds):
                    cache = work / f"cache-{label}-{round_number}"
                    for case, ttl in (("cold", 86400), ("warm", 86400), ("tag-expired", 0)):
                        for key, seconds, count in measure(registry.netloc, cache, ttl):
                            short = key.split("/", 1)[1]
                            results.setdefault((case, short), []).append((seconds, count))
                for (case, short), samples in results.items():
                    median = statistics.median(s for s, _ in samples) * 1000
                    counts = sorted({c for _, c in samples})
                    print(f"{label:<8} {case:<12} {short:<24} {median:>9.1f}"
                          f" {'/'.join(map(str, counts)):>8}")
            started = time.monotonic()
            measure(plain.netloc, work / "cache-batch", 86400)
            print(f"4 images, cold, concurrently: {(time.monotonic() - started) * 1000:.1f} ms"
                  " wall clock")
        finally:
            plain.stop()
            token.stop()
            token_server.close()


if __name__ == "__main__":
    main()
