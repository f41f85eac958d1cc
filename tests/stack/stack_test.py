#!/usr/bin/env python3
"""The stack test's checks (run by tests/stack/run.sh, which picks the engine and builds the
base images): docker-compose.yml started from a copy of the project as README.md and
docs/operations.md tell an operator, then used through the proxy's published port.

Standard library only. Each check prints "ok - NAME" or "FAIL - NAME" and the run ends with
"stack: N passed, N failed"; the first failure stops the run, prints the services' logs and
takes the stack down.
"""

import base64
import http.cookiejar
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

CHECKOUT = sys.argv[1]
ENGINE = os.environ["ENGINE"]
COMPOSE = os.environ["COMPOSE"].split()
PROJECT = "freshtoken-stack-test"
PORT = int(os.environ.get("FRESHTOKEN_STACK_PORT", "18080"))
SINGLE_PORT = PORT + 1
FAKE_PORT = PORT + 2
BASE = f"http://localhost:{PORT}"
SITE = "https://bakery.example"
OTHER_SITE = "https://elsewhere.example"
OWNER = ("owner@stack.example", "a long stack-test password")
SINGLE_VOLUME = f"{PROJECT}-single-data"
SINGLE_CONTAINER = f"{PROJECT}-single"

os.environ["FAKE_INSTAGRAM_PORT"] = str(FAKE_PORT)
passed = 0
context = {}


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def sh(*args, input=None, check_rc=True, timeout=900, cwd=CHECKOUT):
    """Runs a command in the operator's checkout; returns its stdout (bytes)."""
    done = subprocess.run(
        args, cwd=cwd, input=input, capture_output=True, timeout=timeout
    )
    if check_rc and done.returncode != 0:
        raise CheckFailed(
            f"`{' '.join(args)}` exited {done.returncode}:\n"
            f"{done.stdout.decode(errors='replace')[-2000:]}\n"
            f"{done.stderr.decode(errors='replace')[-4000:]}"
        )
    return done.stdout


def compose(*args, **kwargs):
    files = ["-f", "docker-compose.yml", "-f", "tests/stack/compose.test.yml"]
    return sh(*COMPOSE, "-p", PROJECT, *files, *args, **kwargs)


def containers(service):
    """The names of a compose service's running containers, by the labels both tools set."""
    out = sh(
        ENGINE, "ps", "--format", "{{.Names}}",
        "--filter", f"label=com.docker.compose.project={PROJECT}",
        "--filter", f"label=com.docker.compose.service={service}",
    )
    return sorted(out.decode().split())


def inspect(container, template):
    return sh(ENGINE, "inspect", "--format", template, container).decode().strip()


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def request(method, url, body=None, headers=None, raw=None, base=BASE):
    """One HTTP request; returns (status, headers, body as JSON when it is JSON, else text).

    nginx's own 502 page (not freshtoken's JSON 502) means the proxy found no web replica: the
    name `web` did not resolve for a moment (podman's DNS server, aardvark-dns, answers "not
    found" now and then while containers start), or a replica just went away. The request is
    sent again then, for up to 15 s, and each retry is printed."""
    for _ in range(15):
        answer = request_once(method, url, body, headers, raw, base)
        if answer[0] != 502 or not isinstance(answer[2], str):
            return answer
        print(f"  (the proxy answered 502 to {method} {url}; again in 1 s)", flush=True)
        time.sleep(1)
    return answer


def request_once(method, url, body, headers, raw, base):
    headers = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    if method != "GET":
        headers.setdefault("Origin", base)
    req = urllib.request.Request(
        url if url.startswith("http") else base + url,
        data=data, method=method, headers=headers,
    )
    try:
        with opener.open(req, timeout=30) as answer:
            status, answer_headers, text = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, text = error.code, error.headers, error.read()
    text = text.decode(errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    return status, answer_headers, parsed


def wait_for(what, probe, seconds):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except (OSError, CheckFailed) as error:
            last = error
        time.sleep(1)
    raise CheckFailed(f"{what}: not within {seconds} s (last: {last})")


def ready(base=BASE):
    status, _, body = request("GET", "/readyz", base=base)
    return status == 200 and body


def step(name):
    def decorate(function):
        STEPS.append((name, function))
        return function
    return decorate


STEPS = []


@step("the README's setup: .env from .env.example, with a password of any characters")
def configure():
    shutil.copy(os.path.join(CHECKOUT, ".env.example"), os.path.join(CHECKOUT, ".env"))
    # A base64 secret with the three characters that broke a password pasted into a URL.
    password = base64.b64encode(secrets.token_bytes(18)).decode() + "/+="
    settings = {
        "POSTGRES_PASSWORD": password,
        "HTTP_PORT": str(PORT),
        "FRESHTOKEN_PUBLIC_URL": BASE,
    }
    write_env(settings)
    context["settings"] = settings


@step("the image builds through compose, once for web and worker, with its labels")
def build_image():
    started = time.monotonic()
    compose("build", timeout=3600)
    seconds = time.monotonic() - started
    size = int(inspect("freshtoken:local", "{{.Size}}"))
    labels = json.loads(inspect("freshtoken:local", "{{json .Config.Labels}}"))
    check(labels.get("org.opencontainers.image.licenses") == "MIT", f"labels: {labels}")
    check(labels.get("org.opencontainers.image.version"), f"labels: {labels}")
    check(inspect("freshtoken:local", "{{.Config.User}}") == "freshtoken", "runs as freshtoken")
    print(f"  image freshtoken:local: {size / 1e6:.1f} MB, built in {seconds:.0f} s; its layers:")
    history = sh(ENGINE, "history", "--format", "{{.Size}}\t{{.CreatedBy}}", "freshtoken:local")
    for line in history.decode().splitlines():
        layer_size, created_by = line.split("\t", 1)
        if not layer_size.startswith("0"):
            print(f"    {layer_size:>10}  {created_by[:90]}")


@step("a secret key from the image's own generate-key, into .env")
def generate_key():
    settings = context["settings"]
    key = compose("run", "--rm", "--no-deps", "-T", "web", "admin", "generate-key")
    key = key.decode().strip().splitlines()[-1].strip()
    check(len(base64.b64decode(key)) == 32, f"generate-key printed {key!r}")
    settings["FRESHTOKEN_SECRET_KEY"] = key
    write_env(settings)
    context["key"] = key


def write_env(settings):
    path = os.path.join(CHECKOUT, ".env")
    lines = []
    with open(path) as env:
        for line in env.read().splitlines():
            name = line.split("=", 1)[0]
            lines.append(f"{name}={settings[name]}" if name in settings else line)
    with open(path, "w") as env:
        env.write("\n".join(lines) + "\n")


def teardown():
    """Everything of the test's compose project, however many replicas it had."""
    leftovers = sh(
        ENGINE, "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}",
        check_rc=False,
    ).split()
    if leftovers:
        # -v: with their anonymous volumes (the image declares /data a volume).
        sh(ENGINE, "rm", "-f", "-v", *leftovers, check_rc=False)
    compose("down", "-v", check_rc=False)
    sh(ENGINE, "volume", "rm", "-f", f"{PROJECT}_postgres-data", check_rc=False)
    sh(ENGINE, "rm", "-f", "-v", SINGLE_CONTAINER, check_rc=False)
    sh(ENGINE, "volume", "rm", "-f", SINGLE_VOLUME, check_rc=False)


@step("a fresh volume starts with no restart: /readyz through the proxy")
def start():
    teardown()
    compose("up", "-d", timeout=600)
    wait_for("/readyz through the proxy", ready, 180)
    for service in ("web", "worker"):
        for container in containers(service):
            restarts = inspect(container, "{{.RestartCount}}")
            check(restarts == "0", f"{container} restarted {restarts} times:\n" + logs(container))
            check(inspect(container, "{{.State.Running}}") == "true", f"{container} is not running")
            healthy(container)


def healthy(container):
    """The container's health check passes (run at once: podman needs systemd to schedule it)."""
    if ENGINE == "podman":
        wait_for(
            f"{container}'s health check",
            lambda: subprocess.run(
                [ENGINE, "healthcheck", "run", container], capture_output=True
            ).returncode == 0,
            60,
        )
    else:
        wait_for(f"{container}'s health check",
                 lambda: inspect(container, "{{.State.Health.Status}}") == "healthy", 90)


def logs(container):
    done = subprocess.run([ENGINE, "logs", "--tail", "60", container], capture_output=True)
    return (done.stdout + done.stderr).decode(errors="replace")


@step("sign-up through the proxy")
def sign_up():
    status, _, body = request(
        "POST", "/api/v1/auth/signup",
        {"email": OWNER[0], "password": OWNER[1], "workspace": "Bakery"},
    )
    check(status == 201, f"sign-up answered {status}: {body}")
    context["tenant"] = body["tenants"][0]["id"]


@step("/metrics is not public, and an over-large body gets the JSON error")
def proxy_rules():
    unknown = request("GET", "/no-such-page.json")
    metrics = request("GET", "/metrics")
    check(metrics[0] == 404, f"/metrics answered {metrics[0]}: {metrics[2]}")
    check(metrics[2] == unknown[2], f"/metrics {metrics[2]} vs an unknown path {unknown[2]}")
    status, headers, body = request(
        "POST", "/api/v1/auth/signin", raw=b"{" + b" " * 100_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    check(status == 413, f"a 100 kB body answered {status}")
    check(headers.get("Content-Type", "").startswith("application/json"), f"{headers}")
    check(body["error"]["code"] == "payload_too_large", f"{body}")


@step("a token from the fake Instagram on the compose network, pasted while the worker is stopped")
def connect():
    compose("stop", "worker")
    minted = fake("POST", "/__fake/tokens", {"username": "stack_bakery", "age_secs": 2 * 86400})
    accounts = f"/api/v1/tenants/{context['tenant']}/accounts"
    status, _, body = request(
        "POST", accounts, {"token": minted["access_token"], "allowed_origins": [SITE]}
    )
    check(status == 201, f"pasting answered {status}: {body}")
    context["account"] = f"{accounts}/{body['id']}"
    context["public_id"] = body["public_id"]
    context["token"] = minted["access_token"]


def fake(method, path, body=None):
    status, _, answer = request(
        method, f"http://127.0.0.1:{FAKE_PORT}{path}", body, headers={"Origin": "http://fake"}
    )
    check(status in (200, 201), f"fake Instagram {path}: {status} {answer}")
    return answer


@step("token.json is served to the allowed origin and refused to another")
def origin_lock():
    url = f"/t/{context['public_id']}/token.json"
    status, headers, body = request("GET", url, headers={"Origin": SITE})
    check(status == 200 and body["token"] == context["token"], f"{status} {body}")
    check(headers.get("Access-Control-Allow-Origin") == SITE, f"{headers}")
    status, _, body = request("GET", url, headers={"Origin": OTHER_SITE})
    check(status == 403, f"another origin got {status}")
    check(context["token"] not in json.dumps(body), "the refusal holds the token")
    status, _, body = request("GET", url)
    check(status == 403 and context["token"] not in json.dumps(body), f"no origin got {status}")


@step("a refresh due while the worker is stopped is done once it is started again")
def worker_restart():
    status, _, body = request("POST", f"{context['account']}/refresh", {})
    check(status == 202, f"refresh answered {status}: {body}")
    time.sleep(6)
    check(events() == [], "something refreshed while no worker ran")
    compose("start", "worker")
    refreshed = wait_for(
        "the refresh after the worker's restart",
        lambda: [e for e in events() if e["outcome"] == "refreshed"],
        120,
    )
    check(len(refreshed) == 1, f"{refreshed}")
    for container in containers("worker"):
        check(inspect(container, "{{.RestartCount}}") == "0", f"{container} restarted")


def events():
    status, _, body = request("GET", f"{context['account']}/events")
    check(status == 200, f"events answered {status}: {body}")
    return body


@step("the sign-in throttle: a forged X-Forwarded-For is ignored, and another client still signs in")
def throttle():
    statuses = []
    for attempt in range(24):
        status, _, _ = request(
            "POST", "/api/v1/auth/signin",
            {"email": f"nobody{attempt}@stack.example", "password": "wrong guess"},
            headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
        )
        statuses.append(status)
    check(429 not in statuses[:20], f"throttled before 20 attempts: {statuses}")
    check(
        statuses[20:] == [429] * 4,
        f"one client forging addresses was not throttled after 20: {statuses}",
    )
    # Another client: the proxy's own container, which web sees as 127.0.0.1.
    body = json.dumps({"email": OWNER[0], "password": OWNER[1]})
    proxy = containers("proxy")[0]
    script = (
        "exec 3<>/dev/tcp/127.0.0.1/80; "
        f"printf 'POST /api/v1/auth/signin HTTP/1.1\\r\\nHost: localhost:{PORT}\\r\\n"
        f"Origin: {BASE}\\r\\nContent-Type: application/json\\r\\n"
        f"Content-Length: {len(body)}\\r\\nConnection: close\\r\\n\\r\\n%s' '{body}' >&3; "
        "head -n 1 <&3"
    )
    # nginx's 502 here is podman's DNS not resolving `web` for a moment, as `request` says.
    for _ in range(15):
        status_line = sh(ENGINE, "exec", proxy, "bash", "-c", script).decode().strip()
        if " 502 " not in status_line:
            break
        print("  (the proxy answered 502 to the other client's sign-in; again in 1 s)", flush=True)
        time.sleep(1)
    check(" 200 " in status_line, f"the other client's sign-in: {status_line}")


@step("--scale web=2: both replicas answer through the proxy")
def scale():
    compose("up", "-d", "--scale", "web=2", timeout=600)
    webs = wait_for("two web replicas", lambda: len(containers("web")) == 2 and containers("web"), 120)
    for web in webs:
        healthy(web)
    # Each replica alone behind the proxy: stop one, the other answers; then the other way.
    for down, up in (webs, reversed(webs)):
        sh(ENGINE, "stop", down)
        wait_for(f"/readyz with only {up} up", ready, 60)
        sh(ENGINE, "start", down)
        healthy(down)
    # Back to one: podman-compose leaves the extra replica running, so it is removed by hand.
    compose("up", "-d", "--scale", "web=1", timeout=600)
    for extra in containers("web")[1:]:
        sh(ENGINE, "rm", "-f", "-v", extra)


@step("a PostgreSQL backup restores as docs/operations.md says")
def backup_and_restore():
    dump = compose("exec", "-T", "postgres", "pg_dump", "-U", "freshtoken", "-Fc", "freshtoken")
    check(dump.startswith(b"PGDMP"), "pg_dump wrote no custom-format dump")
    status, _, _ = request("DELETE", context["account"])
    check(status == 204, f"deleting the account answered {status}")
    compose("stop", "web", "worker")
    compose(
        "exec", "-T", "postgres", "pg_restore", "-U", "freshtoken", "-d", "freshtoken",
        "--clean", "--if-exists", input=dump,
    )
    compose("start", "web", "worker")
    # Each nginx worker caches the name `web` (even its absence while web was stopped) for 10 s:
    # until then some requests still find no web (502).
    def restored():
        status, _, body = request(
            "GET", f"/t/{context['public_id']}/token.json", headers={"Origin": SITE}
        )
        return status == 200 and body["token"]

    wait_for("the restored account's token.json", restored, 120)


@step("one container on SQLite (docker run), then moved into PostgreSQL by export and import")
def single_container_move():
    # No container or volume of a former run is left: the start step's teardown() removed them.
    network = inspect(containers("fake-instagram")[0], "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}")
    fake_urls = []
    for name in ("OAUTH", "API", "GRAPH"):
        fake_urls += ["-e", f"FRESHTOKEN_INSTAGRAM_{name}_URL=http://fake-instagram:9000"]
    # As docs/operations.md writes it (`-p 8080:8080`), on a port of the test's own: the image
    # binds every address, so its public URL defaults to http://localhost:PORT, which is where
    # the browser is. Plus the test's fake Instagram.
    sh(ENGINE, "run", "-d", "--name", SINGLE_CONTAINER, "--network", network,
       "-p", f"{SINGLE_PORT}:{SINGLE_PORT}", "-e", f"FRESHTOKEN_BIND=0.0.0.0:{SINGLE_PORT}",
       "-v", f"{SINGLE_VOLUME}:/data", *fake_urls, "freshtoken:local")
    single = f"http://localhost:{SINGLE_PORT}"
    wait_for("the single container's /readyz", lambda: ready(single), 120)
    status, _, body = request(
        "POST", "/api/v1/auth/signup",
        {"email": "solo@stack.example", "password": OWNER[1], "workspace": "Solo"}, base=single,
    )
    check(status == 201, f"a browser's sign-up on localhost answered {status}: {body}")
    minted = fake("POST", "/__fake/tokens", {"username": "solo_shop", "age_secs": 2 * 86400})
    status, _, body = request(
        "POST", f"/api/v1/tenants/{body['tenants'][0]['id']}/accounts",
        {"token": minted["access_token"], "allowed_origins": [SITE]}, base=single,
    )
    check(status == 201, f"pasting on the single container answered {status}: {body}")
    sh(ENGINE, "stop", SINGLE_CONTAINER)
    export = sh(ENGINE, "run", "--rm", "-v", f"{SINGLE_VOLUME}:/data", "freshtoken:local",
                "admin", "export", "--output", "-")
    key_file = sh(ENGINE, "run", "--rm", "-v", f"{SINGLE_VOLUME}:/data", "--entrypoint", "cat",
                  "freshtoken:local", "/data/secret.key").decode()
    key = next(line.strip() for line in key_file.splitlines()
               if line.strip() and not line.startswith("#"))
    compose("exec", "-T", "postgres", "createdb", "-U", "freshtoken", "moved")
    imported = compose(
        "run", "--rm", "--no-deps", "-T",
        "-e", "FRESHTOKEN_DATABASE_URL=postgres://freshtoken@postgres:5432/moved",
        "-e", f"FRESHTOKEN_SECRET_KEY={key}",
        "web", "admin", "import", "-", input=export,
    ).decode()
    check("imported 1 users, 1 workspaces, 1 accounts and 1 tokens" in imported, imported)
    sh(ENGINE, "rm", "-f", "-v", SINGLE_CONTAINER)
    sh(ENGINE, "volume", "rm", "-f", SINGLE_VOLUME)


def main():
    global passed
    failed = 0
    try:
        for name, function in STEPS:
            started = time.monotonic()
            try:
                function()
            except Exception as error:  # noqa: BLE001 - any failure ends the run the same way
                print(f"FAIL - {name}\n  {type(error).__name__}: {error}", flush=True)
                failed = 1
                print_logs()
                break
            passed += 1
            print(f"ok - {name} ({time.monotonic() - started:.0f} s)", flush=True)
    finally:
        try:
            teardown()
        except Exception as error:  # noqa: BLE001 - the summary must still be printed
            print(f"(teardown failed: {error})", flush=True)
        print(f"stack: {passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def print_logs():
    for service in ("postgres", "web", "worker", "proxy", "fake-instagram"):
        try:
            names = containers(service)
        except CheckFailed as error:
            print(f"(cannot list {service}'s containers: {error})")
            continue
        for container in names:
            print(f"--- logs of {container}\n{logs(container)}")


if __name__ == "__main__":
    main()
