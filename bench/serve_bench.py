"""bench/serve: model-api vs ``mlflow models serve`` vs a minimal FastAPI app, driven by wrk.

1. Trains the model once (``python -m training``) into a temporary SQLite MLflow store.
2. Starts, one at a time on a free 127.0.0.1 port, ``mlflow models serve --env-manager local``,
   ``model-api serve`` (both on ``models:/model-api@champion`` from that store) and
   bench/minimal_app.py; drives each with bench/invocations.lua (one-row ``dataframe_split``
   bodies at 1 and 16 connections, 100-row bodies at 16 connections; both model servers also
   with 2 workers at 1 connection, the TCP_NODELAY pitfall). model-api also gets OIP v2 rows:
   JSON, binary tensors (wrk, same script) and gRPC ModelInfer with raw tensors (h2load, the
   nghttp2 load generator in C, sending the same framed request; bench/grpc_load.py, a Python
   client, when h2load is missing). MLServer 1.7.1 gets the OIP v2 JSON and gRPC rows, and the
   minimal app a no-op gRPC ModelInfer: the ceiling of Python gRPC on this machine.
   ``--baseline REF`` (default: the tree before issues #12-#19) also serves the model with the
   code of that git revision, same venv, for the JSON rows: what today's code costs against it.
3. Measures the in-process cost of one prediction (``Predictor.predict`` and MLflow's
   ``pyfunc`` ``predict`` on a one-row DataFrame).
4. Prints one table and rewrites the ``bench:serve`` section of docs/PERFORMANCE.md atomically.

Performance is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import timeit
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from service.registry import DEFAULT_MODEL_URI, MODEL_NAME

ROOT = Path(__file__).resolve().parents[1]
# Run as a script (bench/serve, ./dev bench): the MLServer helpers live in tests/support.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
LUA = ROOT / "bench" / "invocations.lua"
GRPC_LOAD = ROOT / "bench" / "grpc_load.py"
GRPC_METHOD = "/inference.GRPCInferenceService/ModelInfer"
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"
# How each protocol's requests are sent (the table's protocol column).
PROTOCOLS = {
    "json": "MLflow JSON",
    "v2-json": "OIP v2 JSON",
    "v2-binary": "OIP v2 binary",
    "grpc": "OIP v2 gRPC",
}
DOC = ROOT / "docs" / "PERFORMANCE.md"
# model-api with the prediction log off; the "model-api" rows have it on (a SQLite store).
NOLOG = "model-api (log off)"
# SeldonIO's MLServer 1.7.1 + mlserver-sklearn on the same estimator, from .venv-mlserver
# (tests/support/mlserver.py); workers = its parallel_workers (inference worker processes).
MLSERVER = "mlserver"
# The issue #14 goal: model-api answers >= 30x the requests of MLServer on every protocol.
MLSERVER_FACTOR = 30
# The tree the issues #12-#19 measured against ("today" when they were filed, 2026-11-26): the
# JSON paths may cost at most 5% against it (#14), the prediction log at most 10% (#16).
BASELINE_REF = "4936cd2"
BASELINE_PREFIX = "model-api @ "
JSON_BUDGET, LOG_BUDGET = 0.95, 0.90
START, END = "<!-- bench:serve:start -->", "<!-- bench:serve:end -->"
MODEL_URI = DEFAULT_MODEL_URI


@dataclass(frozen=True)
class Case:
    server: str  # "mlflow" | "model-api" | NOLOG | MLSERVER | "minimal"
    workers: int
    connections: int
    rows: int
    protocol: str = "json"  # a key of PROTOCOLS; "json" is /invocations with dataframe_split


@dataclass(frozen=True)
class Body:
    """A request body file and the headers it needs (wrk), or a serialized gRPC request."""

    path: Path
    content_type: str = "application/json"
    header_length: int | None = None  # Inference-Header-Content-Length of a binary body


@dataclass(frozen=True)
class Endpoint:
    base: str  # http://127.0.0.1:PORT
    grpc: str | None = None  # 127.0.0.1:PORT of the gRPC listener (model-api, MLServer)


@dataclass
class Result:
    case: Case
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    note: str = ""
    raw: dict[str, float] = field(default_factory=dict)


def cases(baseline: str | None = None) -> list[Case]:
    """Every row of the table; ``baseline`` is the server name of the baseline revision."""
    before = [
        Case(baseline, 1, 16, rows, protocol)
        for protocol in ("json", "v2-json")
        for rows in (1, 100)
        if baseline is not None
    ]
    return [
        Case("mlflow", 1, 1, 1),
        Case("mlflow", 1, 16, 1),
        Case("mlflow", 1, 16, 100),
        Case("mlflow", 2, 1, 1),
        Case("model-api", 1, 1, 1),
        Case("model-api", 1, 16, 1),
        Case("model-api", 1, 16, 100),
        Case("model-api", 2, 1, 1),
        Case("model-api", 2, 16, 1),
        Case("model-api", 1, 16, 1, "v2-json"),
        Case("model-api", 1, 16, 100, "v2-json"),
        Case("model-api", 1, 16, 1, "v2-binary"),
        Case("model-api", 1, 16, 100, "v2-binary"),
        Case("model-api", 1, 16, 1, "grpc"),
        Case("model-api", 1, 16, 100, "grpc"),
        # The prediction log off (MODEL_API_FEEDBACK_STORE=off): what the log costs.
        Case(NOLOG, 1, 16, 1),
        Case(NOLOG, 1, 16, 100),
        Case(NOLOG, 1, 16, 1, "v2-json"),
        Case(NOLOG, 1, 16, 100, "v2-json"),
        *before,
        # MLServer with its default of one inference worker; it has no binary data extension.
        Case(MLSERVER, 1, 16, 1, "v2-json"),
        Case(MLSERVER, 1, 16, 100, "v2-json"),
        Case(MLSERVER, 1, 16, 1, "grpc"),
        Case(MLSERVER, 1, 16, 100, "grpc"),
        Case("minimal", 1, 1, 1),
        Case("minimal", 1, 16, 1),
        Case("minimal", 1, 16, 1, "grpc"),
        Case("minimal", 2, 1, 1),
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], ping: str, log: Path) -> Iterator[None]:
    """Start ``command`` in its own process group; stop that group afterwards."""
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(ping, process, timeout=120)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def server_command(case: Case, port: int, grpc_port: int | None = None) -> list[str]:
    python = sys.executable
    host = ["127.0.0.1"]
    if case.server == "mlflow":
        return [
            python,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            MODEL_URI,
            "--env-manager",
            "local",
            "-h",
            *host,
            "-p",
            str(port),
            "-w",
            str(case.workers),
        ]
    if case.server in ("model-api", NOLOG) or case.server.startswith(BASELINE_PREFIX):
        return [
            python,
            "-m",
            "service",
            "serve",
            "--host",
            *host,
            "--port",
            str(port),
            "--workers",
            str(case.workers),
            *(["--grpc-port", str(grpc_port)] if grpc_port is not None else []),
        ]
    return [
        python,
        "-m",
        "uvicorn",
        "--app-dir",
        str(ROOT / "bench"),
        "minimal_app:app",
        "--host",
        *host,
        "--port",
        str(port),
        "--workers",
        str(case.workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def run_wrk(url: str, body: Body, connections: int, duration: float) -> dict[str, float]:
    extra = [body.content_type]
    if body.header_length is not None:
        extra.append(str(body.header_length))
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(body.path),
        *extra,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return wrk_json(out, "wrk")


def run_grpc(target: str, body: Body, connections: int, duration: float) -> dict[str, float]:
    if shutil.which("h2load") is not None:
        return run_h2load(target, body, connections, duration)
    command = [
        sys.executable,
        str(GRPC_LOAD),
        "--target",
        target,
        "--connections",
        str(connections),
        "--duration",
        f"{duration:g}",
        str(body.path),
    ]
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    return wrk_json(out, "bench/grpc_load.py")


def run_h2load(target: str, body: Body, connections: int, duration: float) -> dict[str, float]:
    """``ModelInfer`` calls from h2load: one stream at a time per connection, like wrk.

    h2load sees HTTP statuses only; a gRPC error travels in the ``grpc-status`` trailer of an
    HTTP 200. So every case is probed first with a real gRPC client (:func:`grpc_probe`), and as
    every call sends the same bytes, a server that answered the probe answers them all alike.
    """
    with tempfile.NamedTemporaryFile(prefix="h2load-", suffix=".log") as log:
        command = [
            "h2load",
            f"-c{connections}",
            "-m1",
            "-t1",
            f"-D{duration:g}",
            "-d",
            str(body.path.with_suffix(".frame")),
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            "--log-file",
            log.name,
            f"http://{target}{GRPC_METHOD}",
        ]
        out = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=duration + 60
        ).stdout
        latencies = sorted(
            int(fields[2])
            for fields in (line.split("\t") for line in Path(log.name).read_text().splitlines())
            if len(fields) == 3 and fields[1] == "200"
        )
    finished = re.search(r"^finished in ([0-9.]+)(m?s),", out, re.MULTILINE)
    counts = re.search(
        r"^requests: .* (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
        out,
        re.MULTILINE,
    )
    if finished is None or counts is None:
        raise RuntimeError(f"h2load printed no summary:\n{out}")
    elapsed = float(finished.group(1)) * (1e3 if finished.group(2) == "ms" else 1e6)

    def percentile(share: float) -> float:
        return float(latencies[min(len(latencies) - 1, int(share * len(latencies)))])

    return {
        "requests": len(latencies),
        "duration_us": elapsed,
        "p50_us": percentile(0.50) if latencies else 0.0,
        "p90_us": percentile(0.90) if latencies else 0.0,
        "p99_us": percentile(0.99) if latencies else 0.0,
        "max_us": float(latencies[-1]) if latencies else 0.0,
        "status_errors": float(sum(int(n) for n in counts.groups()[1:])),
    }


def grpc_probe(target: str, body: Body) -> None:
    """One ``ModelInfer`` call with the case's request through grpcio: OK, with outputs."""
    import grpc

    from service.grpc import oip_pb2

    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            GRPC_METHOD,
            request_serializer=lambda b: b,
            response_deserializer=oip_pb2.ModelInferResponse.FromString,
        )
        try:
            answer = call(body.path.read_bytes(), timeout=30)
        except grpc.RpcError as exc:
            raise RuntimeError(f"gRPC probe of {target} failed: {exc}") from None
    if not answer.outputs:
        raise RuntimeError(f"gRPC probe of {target}: a ModelInferResponse without outputs")


def wrk_json(out: str, tool: str) -> dict[str, float]:
    match = re.search(r"^WRK_JSON (\{.*\})$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{tool} printed no WRK_JSON line:\n{out}")
    data: dict[str, float] = json.loads(match.group(1))
    return data


def start_servers(
    wanted: Sequence[Case], env: dict[str, str], stack: contextlib.ExitStack, workdir: Path
) -> dict[tuple[str, int], Endpoint]:
    """Start every (server, workers) pair once, all at the same time; its endpoints per pair.

    Idle servers cost no CPU, so keeping them all up lets the rounds interleave the servers.
    A server that fails to start is left out (its cases are reported as failed).
    """
    urls: dict[tuple[str, int], Endpoint] = {}
    for key in dict.fromkeys((c.server, c.workers) for c in wanted):
        if key[0] == MLSERVER:
            endpoint = start_mlserver(key[1], env, stack, workdir)
            if endpoint is not None:
                urls[key] = endpoint
            continue
        port = free_port()
        # model-api serves gRPC in every worker (SO_REUSEPORT); the minimal app only with one.
        with_grpc = key[0] == "model-api" or (key[0] == "minimal" and key[1] == 1)
        grpc_port = free_port() if with_grpc else None
        base = f"http://127.0.0.1:{port}"
        log = workdir / f"{key[0].split()[0]}-{len(urls)}-w{key[1]}.log"
        print(f"starting {key[0]} with {key[1]} worker(s) on {base} ...", file=sys.stderr)
        store = "off" if key[0] == NOLOG else f"sqlite:///{workdir / f'feedback-{port}.sqlite'}"
        server_env = {**env, "MODEL_API_FEEDBACK_STORE": store}
        if key[0] == "minimal" and grpc_port is not None:
            server_env["MINIMAL_GRPC_PORT"] = str(grpc_port)
            grpc_port_arg = None
        else:
            grpc_port_arg = grpc_port
        if key[0].startswith(BASELINE_PREFIX):
            try:
                source = baseline_tree(key[0].removeprefix(BASELINE_PREFIX), workdir)
            except RuntimeError as exc:
                print(f"  failed: {exc}", file=sys.stderr)
                continue
            server_env["PYTHONPATH"] = str(source)
        try:
            stack.enter_context(
                running(
                    server_command(Case(*key, 1, 1), port, grpc_port_arg),
                    server_env,
                    f"{base}/ping",
                    log,
                )
            )
        except RuntimeError as exc:
            print(f"  failed: {exc} (log: {log})", file=sys.stderr)
            continue
        urls[key] = Endpoint(base, None if grpc_port is None else f"127.0.0.1:{grpc_port}")
    return urls


def baseline_tree(ref: str, workdir: Path) -> Path:
    """The files of git revision ``ref`` (``git archive``), unpacked under ``workdir``."""
    target = workdir / "baseline"
    if target.is_dir():
        return target
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref],
        capture_output=True,
        timeout=120,
    )
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"git archive {ref}: {message or 'failed'} (a shallow clone?)")
    target.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target


def start_mlserver(
    workers: int, env: dict[str, str], stack: contextlib.ExitStack, workdir: Path
) -> Endpoint | None:
    """``mlserver start`` on the champion's estimator (written with joblib), or None if it fails.

    Its settings are MLServer's defaults but for 127.0.0.1, free ports, ``parallel_workers``,
    and the metrics endpoint and debug logs off (less work for MLServer than its defaults).
    """
    from service.model import fetch_model
    from tests.support import mlserver

    print(f"starting {MLSERVER} with {workers} inference worker(s) ...", file=sys.stderr)
    reason = mlserver.missing()
    if reason is not None:
        print(f"  failed: {reason}", file=sys.stderr)
        return None
    root = workdir / f"mlserver-w{workers}"
    champion = fetch_model(MODEL_URI, workdir / "champion", tracking_uri=env["MLFLOW_TRACKING_URI"])
    root.mkdir()
    version = json.loads((champion / "model-source.json").read_text()).get("version") or "1"
    try:
        server = stack.enter_context(
            mlserver.running(
                root,
                model_dir=champion,
                name=MODEL_NAME,
                version=str(version),
                parallel_workers=workers,
            )
        )
    except AssertionError as exc:
        print(f"  failed: {str(exc)[-2000:]}", file=sys.stderr)
        return None
    return Endpoint(server.url, server.grpc)


def measure_all(
    wanted: Sequence[Case],
    urls: dict[tuple[str, int], Endpoint],
    bodies: dict[tuple[str, int], Body],
    duration: float,
    rounds: int,
) -> list[Result]:
    """Warm up each case, then run ``rounds`` interleaved rounds; keep each case's best round.

    On a shared machine other jobs only ever slow a run down, so the fastest of several short
    interleaved runs is the closest to what the server can do, and every server sees the same
    background load pattern.
    """
    results = {case: Result(case) for case in wanted}
    for case in wanted:
        if (case.server, case.workers) not in urls:
            results[case].note = "failed to start (see stderr)"
    live = [case for case in wanted if not results[case].note]

    def drive(case: Case, seconds: float) -> dict[str, float]:
        endpoint = urls[(case.server, case.workers)]
        body = bodies[(case.protocol, case.rows)]
        if case.protocol == "grpc":
            assert endpoint.grpc is not None
            return run_grpc(endpoint.grpc, body, case.connections, seconds)
        path = "/invocations" if case.protocol == "json" else INFER_PATH
        return run_wrk(endpoint.base + path, body, case.connections, seconds)

    for case in live:
        if case.protocol == "grpc":
            try:
                grpc_probe(str(urls[(case.server, case.workers)].grpc), bodies[("grpc", case.rows)])
            except RuntimeError as exc:
                results[case].note = f"failed: {exc}"
                continue
        drive(case, 2.0)  # warm-up
    live = [case for case in live if not results[case].note]
    for round_ in range(1, rounds + 1):
        for case in live:
            label = (
                f"{case.server} {case.protocol} w={case.workers} c={case.connections} "
                f"rows={case.rows}"
            )
            print(f"round {round_}/{rounds}: {label}", file=sys.stderr)
            try:
                raw = drive(case, duration / rounds)
            except (
                RuntimeError,
                subprocess.CalledProcessError,
                subprocess.TimeoutExpired,
            ) as exc:
                results[case].note = f"failed: {str(exc).splitlines()[0]}"
                continue
            seconds = raw["duration_us"] / 1e6
            rate = raw["requests"] / seconds if seconds else 0.0
            best = results[case]
            if rate > best.requests_per_s:
                best.raw = raw
                best.requests_per_s = rate
                best.p50_ms = raw["p50_us"] / 1000
                best.p99_ms = raw["p99_us"] / 1000
                best.errors = int(
                    sum(raw[k] for k in raw if k.endswith("errors") or k == "timeouts")
                )
    return [results[case] for case in wanted]


def train(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "training", "--output-json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def write_bodies(workdir: Path) -> dict[tuple[str, int], Body]:
    """One body per (protocol, rows): the same validation rows in every format."""
    import numpy as np

    from service.grpc import oip_pb2
    from training.train import load_dataset

    frame = load_dataset().x_valid
    bodies = {}
    for rows in (1, 100):
        part = frame.head(rows)
        values = part.to_numpy(np.float64)
        payload = {"dataframe_split": {"columns": list(part.columns), "data": values.tolist()}}
        path = workdir / f"split{rows}.json"
        path.write_text(json.dumps(payload))
        bodies[("json", rows)] = Body(path)
        tensor = {"name": "input-0", "shape": list(values.shape), "datatype": "FP64"}
        path = workdir / f"v2-{rows}.json"
        path.write_text(json.dumps({"inputs": [{**tensor, "data": values.ravel().tolist()}]}))
        bodies[("v2-json", rows)] = Body(path)
        raw = values.astype("<f8").tobytes()
        header = json.dumps(
            {"inputs": [{**tensor, "parameters": {"binary_data_size": len(raw)}}]}
        ).encode()
        path = workdir / f"v2-{rows}.bin"
        path.write_bytes(header + raw)
        bodies[("v2-binary", rows)] = Body(path, "application/octet-stream", len(header))
        request = oip_pb2.ModelInferRequest(model_name=MODEL_NAME)
        request.inputs.add(name="input-0", datatype="FP64", shape=list(values.shape))
        request.raw_input_contents.append(raw)
        message = request.SerializeToString()
        path = workdir / f"grpc-{rows}.bin"
        path.write_bytes(message)
        # The same message as one gRPC length-prefixed frame (not compressed), for h2load.
        path.with_suffix(".frame").write_bytes(b"\x00" + len(message).to_bytes(4, "big") + message)
        bodies[("grpc", rows)] = Body(path)
    return bodies


def in_process(env: dict[str, str]) -> dict[str, float]:
    """Seconds per call: our predictor on 1 and 100 rows, MLflow pyfunc on a 1-row frame."""
    import numpy as np

    from service.model import load_predictor
    from training.train import load_dataset

    os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
    frame = load_dataset().x_valid
    predictor = load_predictor(MODEL_URI)
    predictor.load()
    one, hundred = frame.head(1).to_numpy(np.float64), frame.head(100).to_numpy(np.float64)

    def best(call: object, number: int) -> float:
        return min(timeit.repeat(call, number=number, repeat=5)) / number  # type: ignore[arg-type]

    import mlflow.pyfunc

    pyfunc = mlflow.pyfunc.load_model(MODEL_URI)
    one_frame = frame.head(1)
    return {
        "predictor_1": best(lambda: predictor.predict(one), 2000),
        "predictor_100": best(lambda: predictor.predict(hundred), 200),
        "pyfunc_1": best(lambda: pyfunc.predict(one_frame), 20),
    }


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    packages = ("mlflow", "fastapi", "uvicorn", "onnxruntime", "scikit-learn", "numpy")
    from tests.support import mlserver

    theirs = ""
    if mlserver.missing() is None:
        theirs = subprocess.run(
            [str(mlserver.PYTHON), "-c", "import mlserver; print(mlserver.__version__)"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    h2load = ""
    if shutil.which("h2load") is not None:
        h2load = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout
    return {
        "cpu": cpu,
        "nproc": str(os.cpu_count()),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "versions": ", ".join(f"{name} {version(name)}" for name in packages)
        + f", MLServer {theirs or 'not installed'} (.venv-mlserver)",
        "wrk": wrk[1] if len(wrk) > 1 else "unknown",
        "h2load": " ".join(h2load.split()[1:2]) or "not installed",
    }


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.1f}x" if reference else "-"


def table(results: Sequence[Result]) -> list[str]:
    mlflow = {
        (r.case.connections, r.case.rows, r.case.workers): r
        for r in results
        if r.case.server == "mlflow"
    }
    lines = [
        "| server | protocol | workers | connections | rows/request | req/s | p50 ms | p99 ms "
        "| errors | req/s vs MLflow |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r.case
        if r.note:
            lines.append(
                f"| {c.server} | {PROTOCOLS[c.protocol]} | {c.workers} | {c.connections} "
                f"| {c.rows} | {r.note} | | | | |"
            )
            continue
        ref = mlflow.get((c.connections, c.rows, c.workers)) or mlflow.get(
            (c.connections, c.rows, 1)
        )
        versus = ratio(r.requests_per_s, ref.requests_per_s) if ref and not ref.note else "-"
        lines.append(
            f"| {c.server} | {PROTOCOLS[c.protocol]} | {c.workers} | {c.connections} | {c.rows} | "
            f"{r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} | {versus} |"
        )
    return lines


def measured(results: Sequence[Result], case: Case) -> Result | None:
    """The result of ``case`` if it ran (no failure note), else None."""
    return next((r for r in results if r.case == case and not r.note), None)


def goals(results: Sequence[Result]) -> list[str]:
    api, mlflow, minimal = (
        measured(results, Case(server, 1, 16, 1)) for server in ("model-api", "mlflow", "minimal")
    )
    if not (api and mlflow and minimal):
        return ["Goals not evaluated: a 16-connection one-row run is missing."]
    checks = [
        (
            f"throughput >= 10x MLflow: {api.requests_per_s / mlflow.requests_per_s:.1f}x",
            api.requests_per_s >= 10 * mlflow.requests_per_s,
        ),
        (
            f"p99 <= MLflow p99 / 10: {api.p99_ms:.2f} ms vs {mlflow.p99_ms / 10:.2f} ms",
            api.p99_ms <= mlflow.p99_ms / 10,
        ),
        (
            f"throughput >= 60% of the minimal app: "
            f"{100 * api.requests_per_s / minimal.requests_per_s:.0f}%",
            api.requests_per_s >= 0.6 * minimal.requests_per_s,
        ),
    ]
    return [f"- {'met' if ok else 'MISSED'}: {text}" for text, ok in checks]


def prediction_log_note(results: Sequence[Result]) -> list[str]:
    """Throughput with the prediction log on (model-api rows) vs off (NOLOG rows)."""
    lines = []
    for rows in (1, 100):
        on = measured(results, Case("model-api", 1, 16, rows))
        off = measured(results, Case(NOLOG, 1, 16, rows))
        if on is None or off is None:
            continue
        share = on.requests_per_s / off.requests_per_s
        verdict = "within" if share >= 0.9 else "NOT within"
        lines.append(
            f"- {rows} row(s)/request, 16 connections: {on.requests_per_s:,.0f} req/s with the "
            f"prediction log on vs {off.requests_per_s:,.0f} off ({100 * share:.0f}%: {verdict} "
            "the 10% budget)."
        )
    if not lines:
        return []
    return [
        "Prediction log (docs/MONITORING.md): the `model-api` rows run with the log on (ids, "
        "queue, SQLite writes in the background, drift window), `model-api (log off)` with "
        "`MODEL_API_FEEDBACK_STORE=off`:",
        "",
        *lines,
    ]


def mlserver_goals(results: Sequence[Result]) -> list[str]:
    """model-api vs MLServer per protocol (16 connections, 1 worker each), against the 30x goal.

    MLServer has no binary data extension: model-api's binary rows are set against MLServer's
    JSON rows with the same number of rows per request (what a client of MLServer sends).
    """
    lines = []
    for protocol, theirs_protocol in (
        ("v2-json", "v2-json"),
        ("v2-binary", "v2-json"),
        ("grpc", "grpc"),
    ):
        for rows in (1, 100):
            ours = measured(results, Case("model-api", 1, 16, rows, protocol))
            theirs = measured(results, Case(MLSERVER, 1, 16, rows, theirs_protocol))
            label = f"{PROTOCOLS[protocol]}, {rows} row{'s' if rows > 1 else ''}"
            if theirs_protocol != protocol:
                label += f" (vs MLServer's {PROTOCOLS[theirs_protocol]})"
            if ours is None or theirs is None or not theirs.requests_per_s:
                lines.append(f"- not measured: {label}")
                continue
            factor = ours.requests_per_s / theirs.requests_per_s
            verdict = "met" if factor >= MLSERVER_FACTOR else "MISSED"
            lines.append(
                f"- {verdict}: {label}: {ours.requests_per_s:,.0f} vs "
                f"{theirs.requests_per_s:,.0f} req/s = {factor:.1f}x"
            )
    return lines


def grpc_ceiling_note(results: Sequence[Result]) -> list[str]:
    """How far a Python gRPC server can go here: the minimal app's no-op ModelInfer."""
    ceiling = measured(results, Case("minimal", 1, 16, 1, "grpc"))
    theirs = measured(results, Case(MLSERVER, 1, 16, 1, "grpc"))
    ours = measured(results, Case("model-api", 1, 16, 1, "grpc"))
    if ceiling is None or theirs is None or not theirs.requests_per_s:
        return []
    share = ""
    if ours is not None:
        reached = ours.requests_per_s / ceiling.requests_per_s
        share = f"; model-api's gRPC reaches {100 * reached:.0f}% of it"
    return [
        f"- the gRPC ceiling on this machine, the minimal app's no-op `ModelInfer` (grpc.aio, "
        f"decode the request, constant answer, no model): {ceiling.requests_per_s:,.0f} req/s "
        f"= {ceiling.requests_per_s / theirs.requests_per_s:.1f}x MLServer's one-row gRPC" + share
    ]


def baseline_goals(results: Sequence[Result]) -> list[str]:
    """Today's JSON paths against the baseline revision: log off (5%, #14), log on (10%, #16)."""
    lines = []
    for protocol in ("json", "v2-json"):
        for rows in (1, 100):
            before = next(
                (
                    r
                    for r in results
                    if r.case.server.startswith(BASELINE_PREFIX)
                    and r.case == Case(r.case.server, 1, 16, rows, protocol)
                    and not r.note
                ),
                None,
            )
            label = f"{PROTOCOLS[protocol]}, {rows} row{'s' if rows > 1 else ''}"
            off = measured(results, Case(NOLOG, 1, 16, rows, protocol))
            on = measured(results, Case("model-api", 1, 16, rows, protocol))
            if before is None or off is None or on is None or not before.requests_per_s:
                lines.append(f"- not measured: {label}")
                continue
            parts = []
            for name, result, budget in (("log off", off, JSON_BUDGET), ("log on", on, LOG_BUDGET)):
                share = result.requests_per_s / before.requests_per_s
                verdict = "within" if share >= budget else "NOT within"
                parts.append(
                    f"{name} {result.requests_per_s:,.0f} ({100 * share:.0f}%: {verdict} "
                    f"{100 - 100 * budget:.0f}%)"
                )
            lines.append(
                f"- {label}: before {before.requests_per_s:,.0f} req/s; now {', '.join(parts)}"
            )
    return lines


def multi_worker_note(results: Sequence[Result]) -> list[str]:
    """What the 2-worker, 1-connection rows say about the delayed-ACK pitfall (measured)."""

    def p50(server: str, workers: int) -> float | None:
        result = measured(results, Case(server, workers, 1, 1))
        return None if result is None else result.p50_ms

    lines = [
        "Multi-worker rows at 1 connection check the TCP_NODELAY pitfall of `uvicorn --workers "
        "N` (Kludex/uvicorn#3149: the pre-bound socket has `proto=0`, so accepted connections "
        "miss TCP_NODELAY and a keep-alive request can wait ~40 ms for a delayed ACK). "
        "`mlflow models serve -w 2` runs exactly that; `model-api serve --workers 2` binds its "
        "own `IPPROTO_TCP` socket (service/server.py); the minimal app runs under plain "
        "`uvicorn --workers 2`. Measured here:",
        "",
    ]
    for server in ("mlflow", "model-api", "minimal"):
        one, two = p50(server, 1), p50(server, 2)
        if one is None or two is None:
            continue
        verdict = "delayed-ACK stall visible" if two > one + 25 else "no delayed-ACK stall"
        lines.append(
            f"- {server}: p50 {two:.2f} ms with 2 workers vs {one:.2f} ms with 1 worker: {verdict}."
        )
    return lines


def section(
    results: Sequence[Result],
    micro: dict[str, float],
    info: dict[str, str],
    trained: dict[str, Any],
    command: str,
    duration: float,
    rounds: int,
    baseline: str | None = None,
) -> str:
    auc = float(trained.get("run", {}).get("metrics", {}).get("roc_auc", float("nan")))
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with `{command}` on "
        f"{info['cpu']} ({info['nproc']} CPUs, {info['os']}), Python {info['python']}, "
        f"{info['versions']}, wrk {info['wrk']}, h2load {info['h2load']}.",
        "",
        f"The CPUs were **shared with other jobs** during this run (load average at start: "
        f"{info['load']}), so absolute numbers are noisy. To be fair under that noise all "
        "servers run at once (idle ones use no CPU) and are driven one at a time in "
        f"{rounds} interleaved rounds of {duration / rounds:g} s per row ({duration:g} s in "
        "total, after a 2 s warm-up); each row shows its fastest round. wrk uses 1 thread on "
        "the same machine.",
        "",
        f"Model: RandomForest ({trained.get('version') and 'version ' + str(trained['version'])},"
        f" validation ROC AUC {auc:.4f}) served as `{MODEL_URI}` from a temporary SQLite store "
        "by both model servers; MLServer 1.7.1 (`mlserver start`, runtime "
        "`mlserver_sklearn.SKLearnModel`, its default of one inference worker process, metrics "
        "endpoint off) serves the same estimator written with joblib. wrk: "
        "`bench/invocations.lua`, POST `/invocations` with a "
        "`dataframe_split` body (MLflow JSON); the OIP v2 rows POST "
        f"`{INFER_PATH}` with one FP64 `input-0` tensor, as JSON or as binary tensors "
        "(`Inference-Header-Content-Length`, Triton's and KServe's default), and call gRPC "
        "`ModelInfer` with `raw_input_contents` "
        + (
            f"through h2load ({info['h2load']}, C, one stream at a time per connection, the "
            "same framed request each time; each gRPC case is first probed with a grpcio call "
            "that must answer OK with outputs, since h2load sees HTTP statuses only)"
            if info["h2load"] != "not installed"
            else "through `bench/grpc_load.py` (Python grpc.aio, one channel per connection, "
            "closed loop; it competes with the server for the CPUs, so the gRPC rows are a "
            "floor; install h2load, Debian package nghttp2-client, for a C load generator)"
        )
        + ". `errors` counts socket errors, timeouts and non-2xx answers (wrk, h2load) or "
        "non-OK statuses (bench/grpc_load.py).",
        "",
        *table(results),
        "",
        "Goals (16 connections, one-row requests, 1 worker):",
        "",
        *goals(results),
        "",
        f"Against MLServer (goal: >= {MLSERVER_FACTOR}x its requests per second on every "
        "protocol; 16 connections, 1 worker / 1 inference worker; MLServer 1.7.1 has no binary "
        "data extension, so the binary rows are set against its JSON rows):",
        "",
        *mlserver_goals(results),
        *grpc_ceiling_note(results),
        "",
        *(
            [
                f"Against the code before issues #12-#19 (`{baseline}`: `git archive` of that "
                "revision, same venv, same model, same load generator, interleaved with the "
                f"other rows; goals: the JSON paths within {100 - 100 * JSON_BUDGET:.0f}% of it "
                f"with the prediction log off, issue #14, and within "
                f"{100 - 100 * LOG_BUDGET:.0f}% with it on, issue #16):",
                "",
                *baseline_goals(results),
                "",
            ]
            if baseline
            else []
        ),
        "In-process cost of one call (best of 5 `timeit` repeats, no HTTP):",
        "",
        "| call | time |",
        "|---|---:|",
        f"| model-api `Predictor.predict`, 1 row (ONNX Runtime) | "
        f"{micro['predictor_1'] * 1e6:.1f} µs |",
        f"| model-api `Predictor.predict`, 100 rows | {micro['predictor_100'] * 1e6:.1f} µs |",
        f"| MLflow `pyfunc.predict`, 1-row DataFrame (schema enforcement + scikit-learn) | "
        f"{micro['pyfunc_1'] * 1e3:.2f} ms |",
        "",
        *multi_worker_note(results),
        "",
        *prediction_log_note(results),
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    document = DOC.read_text(encoding="utf-8")
    if START not in document or END not in document:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers")
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{START}\n{text}\n{END}{tail}"
    fd, tmp = tempfile.mkstemp(dir=DOC.parent, prefix=".PERFORMANCE.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(updated)
        os.replace(tmp, DOC)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=20.0,
        help="seconds of wrk per case, split over --rounds (default 20; 4 for a quick look)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="interleaved rounds per case, each --duration/ROUNDS seconds; best round kept (4)",
    )
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="print the table only; leave docs/PERFORMANCE.md alone",
    )
    parser.add_argument(
        "--baseline",
        default=BASELINE_REF,
        metavar="REF",
        help=f"git revision whose model API is measured beside today's on the JSON rows "
        f"(default {BASELINE_REF}, the tree before issues #12-#19; 'none' to skip)",
    )
    parser.add_argument(
        "--only",
        choices=("mlflow", "model-api", NOLOG, MLSERVER, "minimal", "baseline"),
        action="append",
        help="benchmark only these servers (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rounds < 1:
        parser.error("--duration must be positive and --rounds at least 1")
    if shutil.which("wrk") is None:
        print("bench/serve: wrk not found (Debian package 'wrk')", file=sys.stderr)
        return 1

    command = "bench/serve" + (f" --duration {args.duration:g}" if args.duration != 20 else "")
    command += f" --rounds {args.rounds}" if args.rounds != 4 else ""
    command += f" --baseline {args.baseline}" if args.baseline != BASELINE_REF else ""
    info = machine()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        workdir = Path(scratch)
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
            "MODEL_URI": MODEL_URI,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
        }
        print("training the model into a temporary store ...", file=sys.stderr)
        trained = train(env)
        bodies = write_bodies(workdir)
        baseline = None if args.baseline == "none" else BASELINE_PREFIX + args.baseline
        only = {baseline if name == "baseline" else name for name in args.only or ()}
        wanted = [c for c in cases(baseline) if not only or c.server in only]
        with contextlib.ExitStack() as stack:
            urls = start_servers(wanted, env, stack, workdir)
            results = measure_all(wanted, urls, bodies, args.duration, args.rounds)
        print("in-process prediction cost ...", file=sys.stderr)
        micro = in_process(env)

    text = section(results, micro, info, trained, command, args.duration, args.rounds, baseline)
    print(text)
    if not args.no_write and not args.only:
        write_section(text)
        print(f"\nwrote the bench:serve section of {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
