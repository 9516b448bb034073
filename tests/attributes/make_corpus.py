"""Generate corpus.jsonl: labelled attribute cases for the attribute policy tests.

    python tests/attributes/make_corpus.py      # rewrites tests/attributes/corpus.jsonl

Every secret here is FAKE: random characters in the shape of the real
format (card numbers are published test numbers or random Luhn-valid
numbers).  In the file, every eighth character of a secret case's strings
is written as a JSON ``\\uXXXX`` escape, so secret scanners reading the raw
file do not mistake the fakes for leaks; ``json.loads`` restores them.

Each line: ``key``, ``value``, ``kind`` (``secret`` or ``benign``),
``family`` (the secret family, or the benign look-alike group), ``rules``
(the rule codes the policy must report) and, for secrets, ``secret`` (the
substring that must not survive redaction).
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from pathlib import Path

OUT = Path(__file__).with_name("corpus.jsonl")
rng = random.Random(20241123)

ALNUM = string.ascii_letters + string.digits
UPPER_B32 = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"
B64URL = ALNUM + "-_"


def rand(alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + rand(string.digits, length - len(prefix) - 1)
    for check in string.digits:
        if luhn_ok(body + check):
            return body + check
    raise AssertionError


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_fail(prefix: str, length: int) -> str:
    number = luhn_complete(prefix, length)
    last = (int(number[-1]) + rng.randint(1, 9)) % 10
    return number[:-1] + str(last)


def jwt() -> str:
    header = b64url(
        json.dumps({"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode()
    )
    claims = {
        "sub": rand(string.digits, 6),
        "iat": 1732400000 + rng.randint(0, 10**6),
        "scope": "read",
    }
    return f"{header}.{b64url(json.dumps(claims).encode())}.{rand(B64URL, 43)}"


cases: list[dict] = []


def secret(family: str, key: str, value, token=None, rules=("A005",)) -> None:
    token = value if token is None else token
    cases.append(
        {
            "key": key,
            "value": value,
            "kind": "secret",
            "family": family,
            "rules": sorted(rules),
            "secret": str(token),
        }
    )


def benign(family: str, key: str, value, rules=()) -> None:
    cases.append(
        {"key": key, "value": value, "kind": "benign", "family": family, "rules": sorted(rules)}
    )


# -- secret keys (A004): whatever the value, the key names a secret --------
KEY_FAMILIES = {
    "password": [
        "password",
        "user.password",
        "db.password",
        "passwd",
        "mysql_pwd",
        "new_password",
        "password_confirmation",
        "smtp.passphrase",
        "dbpassword",
        "ldap.bind_password",
    ],
    "secret": [
        "client_secret",
        "app.secret",
        "webhook.secret",
        "secret",
        "oauth.client_secret",
        "jwt.secret_key",
        "clientsecret",
    ],
    "token": [
        "user.token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth.token",
        "bearer_token",
        "github.token",
        "oauth.token",
        "csrf.token_value",
        "auth_token",
    ],
    "api_key": [
        "api_key",
        "x_api_key",
        "stripe.api_key",
        "openai.api_key",
        "apikey",
        "aws.secret_access_key",
        "storage.account_key",
        "http.request.header.x-api-key",
        "http.request.header.ocp-apim-subscription-key",
    ],
    "authorization": [
        "authorization",
        "http.request.header.authorization",
        "auth",
        "http.request.header.proxy-authorization",
        "basic_auth",
        "rpc.request.metadata.authorization",
        "auth_header",
    ],
    "cookie": [
        "cookie",
        "http.request.header.cookie",
        "http.response.header.set-cookie",
        "set_cookie",
        "cookies",
        "request.cookie",
    ],
    "session": [
        "sessionid",
        "session_id",
        "user.session",
        "session_key",
        "django.sessionid",
        "phpsessid",
        "jsessionid",
        "http.session",
    ],
    "credential": [
        "credentials",
        "db.credentials",
        "creds",
        "credential",
        "service_account.credentials",
    ],
    "private_key": [
        "private_key",
        "tls.private_key",
        "ssh.private_key_pem",
        "privkey",
        "signing.private_key",
    ],
    "jwt": ["jwt", "user.jwt", "auth.jwt"],
    "csrf": ["csrf", "csrf_token", "xsrf_token", "http.request.header.x-xsrf-token"],
    "ssn": ["ssn", "user.ssn", "social_security_number", "customer.ssn"],
    "card": ["credit_card", "credit_card_number", "card_number", "cvv", "payment.cvc"],
}
for family, keys in KEY_FAMILIES.items():
    for key in keys:
        value = rng.choice([rand(ALNUM, 24), rand(ALNUM, 12), "hunter2", rand(HEX, 32)])
        if family == "ssn":
            value = f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        if family == "card" and "cv" in key:
            value = rand(string.digits, 3)
        secret(family, key, value, rules=("A004",))
# Keys out of style that name secrets: A004 and A001
for key, family in [
    ("DB_PASSWORD", "password"),
    ("Authorization", "authorization"),
    ("apiKey", "api_key"),
    ("X-API-KEY", "api_key"),
    ("Set-Cookie", "cookie"),
    ("PHPSESSID", "session"),
    ("XSRF-TOKEN", "csrf"),
    ("userToken", "token"),
    ("AWS_SECRET_ACCESS_KEY", "api_key"),
    ("Proxy-Authorization", "authorization"),
]:
    secret(family, key, rand(ALNUM, 20), rules=("A001", "A004"))

# -- secret values (A005) under harmless keys -------------------------------
CARRIERS = [
    "message",
    "note",
    "payload",
    "log.line",
    "debug.info",
    "request.header_dump",
    "app.detail",
    "exception.message",
]


def carrier() -> str:
    return rng.choice(CARRIERS)


for _ in range(10):
    token = jwt()
    secret(
        "jwt", carrier(), rng.choice([token, f"token={token}"[6:], f"got {token} from idp"]), token
    )
for _ in range(8):
    token = rng.choice([rand(ALNUM, 32), rand(ALNUM + "-._~", 40), jwt()])
    value = rng.choice([f"Bearer {token}", f"Authorization: Bearer {token}", f"bearer {token}"])
    secret("bearer", carrier(), value, token)
for user, password in [
    ("admin", "s3cr3t!x"),
    ("bob", "hunter22"),
    ("svc-app", rand(ALNUM, 16)),
    ("alice", rand(ALNUM, 12)),
    ("deploy", rand(ALNUM, 20)),
    ("ci", rand(ALNUM, 10)),
]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    secret(
        "basic",
        carrier(),
        rng.choice([f"Basic {encoded}", f"Authorization: Basic {encoded}"]),
        encoded,
    )
for prefix in ["AKIA", "AKIA", "AKIA", "ASIA", "AKIA", "AROA", "AIDA", "AKIA"]:
    token = prefix + rand(UPPER_B32, 16)
    secret(
        "aws_access_key",
        rng.choice(["aws.key", "config.dump", "message"]),
        rng.choice([token, f"aws_access_key_id={token}", f"using {token}"]),
        token,
    )
secret("aws_access_key", "docs.example", "AKIAIOSFODNN7EXAMPLE")
for _ in range(3):
    token = rng.choice(["FwoGZXIvYXdzE", "IQoJb3JpZ2luX2Vj"]) + rand(ALNUM + "/+", 120)
    secret("aws_session_token", carrier(), token)
for prefix in ["ghp_", "gho_", "ghs_", "ghu_", "ghr_", "ghp_"]:
    token = prefix + rand(ALNUM, 36)
    secret(
        "github_token",
        rng.choice(["vcs.remote", "message", "git.url"]),
        rng.choice([token, f"https://{token}@github.com/acme/app.git"]),
        token,
    )
for _ in range(2):
    token = "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)
    secret("github_token", carrier(), token)
for _ in range(3):
    secret("gitlab_token", carrier(), "glpat-" + rand(ALNUM + "-_", 20))
for prefix in ["xoxb-", "xoxp-", "xoxa-", "xoxs-"]:
    token = f"{prefix}{rand(string.digits, 12)}-{rand(string.digits, 12)}-{rand(ALNUM, 24)}"
    secret("slack_token", carrier(), token)
secret(
    "slack_token",
    carrier(),
    f"xapp-1-A{rand(UPPER_B32, 10)}-{rand(string.digits, 13)}-{rand(HEX, 64)}",
)
for _ in range(3):
    path = f"T{rand(UPPER_B32, 8)}/B{rand(UPPER_B32, 10)}/{rand(ALNUM, 24)}"
    secret(
        "slack_webhook",
        rng.choice(["url.full", "webhook.url", "alert.target"]),
        f"https://hooks.slack.com/services/{path}",
        path,
    )
for prefix in ["sk_live_", "sk_test_", "rk_live_", "sk_live_", "whsec_"]:
    token = prefix + rand(ALNUM, 32)
    secret("stripe_key", rng.choice(["payment.provider_config", "message", "config.dump"]), token)
for _ in range(4):
    token = "AIza" + rand(ALNUM + "-_", 35)
    secret(
        "google_api_key",
        rng.choice(["url.full", "message"]),
        rng.choice(
            [token, f"https://maps.googleapis.com/maps/api/geocode/json?address=x&key={token}"]
        ),
        token,
    )
secret("google_oauth", carrier(), "ya29." + rand(ALNUM + "-_", 120))
secret("google_oauth", carrier(), "GOCSPX-" + rand(ALNUM + "-_", 28))
for prefix in ["sk-", "sk-proj-", "sk-ant-api03-", "sk-svcacct-", "sk-"]:
    secret(
        "ai_api_key",
        rng.choice(["llm.config", "message", "gen_ai.client_config"]),
        prefix + rand(ALNUM + "-_", 48),
    )
for _ in range(3):
    secret("huggingface_token", carrier(), "hf_" + rand(string.ascii_letters, 34))
for _ in range(3):
    secret("npm_token", carrier(), "npm_" + rand(ALNUM, 36))
for _ in range(2):
    secret("pypi_token", carrier(), "pypi-AgEIcHlwaS5vcmc" + rand(ALNUM + "-_", 70))
for _ in range(3):
    secret("sendgrid_key", carrier(), f"SG.{rand(ALNUM + '-_', 22)}.{rand(ALNUM + '-_', 43)}")
for _ in range(2):
    secret("mailgun_key", carrier(), "key-" + rand(HEX, 32))
for prefix in ["shpat_", "shpss_"]:
    secret("shopify_token", carrier(), prefix + rand(HEX, 32))
for prefix in ["dop_v1_", "doo_v1_"]:
    secret("digitalocean_token", carrier(), prefix + rand(HEX, 64))
for kind in ["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "]:
    body = "\n".join(rand(ALNUM + "+/", 64) for _ in range(4))
    pem = f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"
    secret(
        "pem_private_key",
        rng.choice(["tls.config", "message", "debug.info"]),
        rng.choice([pem, f"loaded key:\n{pem}\n"]),
        body,
    )

TEST_CARDS = [
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "3530111333300000",
    "4012888888881881",
    "5105105105105100",
    "371449635398431",
    "30569309025904",
    "6200000000000005",
    "2223003122003222",
    "4000056655665556",
]
for number in TEST_CARDS:
    secret(
        "card_number", rng.choice(["payment.input", "message", "order.note", "form.field"]), number
    )
for prefix, length in [
    ("4", 16),
    ("51", 16),
    ("2221", 16),
    ("34", 15),
    ("6011", 16),
    ("35", 16),
    ("4", 19),
    ("62", 17),
]:
    number = luhn_complete(prefix, length)
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    style = rng.choice(["plain", "spaced", "dashed", "text"])
    value = {
        "plain": number,
        "spaced": spaced,
        "dashed": spaced.replace(" ", "-"),
        "text": f"charge card {spaced} declined",
    }[style]
    secret("card_number", "message", value, value if style != "text" else spaced)
secret("card_number", "payment.pan", int("4111111111111111"), "4111111111111111")
secret("card_number", "payment.pan_int", int(luhn_complete("52", 16)))

for url, pw in [
    ("postgres://app:{}@db.internal:5432/orders", "Pa55w0rd!x"),
    ("mysql://root:{}@10.0.0.5/shop", rand(ALNUM, 14)),
    ("redis://:{}@cache:6379/0", rand(ALNUM, 20)),
    ("amqp://guest:{}@rabbit:5672/", "guestguest"),
    ("https://deploy:{}@api.example.com/v1/hooks", rand(ALNUM, 18)),
    ("mongodb+srv://svc:{}@cluster0.abcd.mongodb.net/app", rand(ALNUM, 16)),
    ("ftp://user:{}@files.example.org/pub", rand(ALNUM, 10)),
    ("https://x-access-token:{}@github.com/acme/app.git", rand(ALNUM, 12)),
]:
    secret(
        "url_password",
        rng.choice(["url.full", "db.connection_string", "message"]),
        url.format(pw),
        pw,
    )

PARAM_SECRETS = [
    ("url.full", "https://api.example.com/v1/me?access_token={}&fields=id,name"),
    ("url.full", "https://shop.example.com/cb?code=ok&state=x&client_secret={}"),
    ("url.full", "https://api.example.com/data?api_key={}"),
    ("url.full", "https://example.com/login?user=bob&password={}"),
    ("url.query", "token={}&page=2"),
    (
        "url.full",
        "https://bucket.s3.amazonaws.com/f.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature={}",
    ),
    ("url.full", "https://acct.blob.core.windows.net/c/b.txt?sv=2022-11-02&sr=b&sig={}"),
    ("db.query.text", "UPDATE users SET password = '{}' WHERE id = 42"),
    ("db.query.text", "INSERT INTO api_keys (owner, api_key) VALUES ('bob', '{}')"),
    ("db.connection_string", "Server=db01;Database=shop;User Id=sa;Password={};"),
    (
        "db.connection_string",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=core.windows.net",
    ),
    ("message", "cookies: theme=dark; sessionid={}; lang=en"),
    ("http.request.body", '{{"user": "bob", "password": "{}"}}'),
    ("request.header_dump", "Host: api.example.com\nX-Api-Key: {}\nAccept: */*"),
    ("message", "login failed for bob password={}"),
]
for key, template in PARAM_SECRETS:
    token = rand(ALNUM, rng.randint(12, 40))
    if "AccountKey" in template:
        token = rand(ALNUM + "+/", 86) + "=="
    rules = ("A005",)
    secret("secret_param", key, template.format(token), token, rules=rules)
for key, template in [
    ("http.url", "https://api.example.com/v2/orders?access_token={}"),
    ("db.statement", "SELECT * FROM users WHERE password = '{}'"),
]:
    token = rand(ALNUM, 24)
    secret("secret_param", key, template.format(token), token, rules=("A005", "A006"))

# -- benign look-alikes -----------------------------------------------------
for key in [
    "request.id",
    "order.uuid",
    "correlation_id",
    "message",
    "user.id",
    "cart.id",
    "payment.intent_id",
    "idempotency_key",
    "job.id",
    "device.id",
]:
    value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    benign("uuid", key, value if key != "message" else f"processed order {value}")
for key, n in [
    ("file.hash", 32),
    ("git.commit.sha", 40),
    ("artifact.sha256", 64),
    ("vcs.ref.head.revision", 40),
    ("content.md5", 32),
    ("cache.etag", 32),
    ("image.digest", 64),
    ("blob.checksum", 40),
    ("build.commit", 7),
    ("object.hash", 64),
]:
    value = rand(HEX, n)
    benign("hash", key, f"sha256:{value}" if key == "image.digest" else value)
for key in [
    "trace.parent_id",
    "otel.trace_id",
    "span.link.trace_id",
    "upstream.span_id",
    "http.request.header.traceparent",
    "log.trace_id",
    "message",
    "b3.header",
]:
    trace_id, span_id = rand(HEX, 32), rand(HEX, 16)
    value = {
        "http.request.header.traceparent": f"00-{trace_id}-{span_id}-01",
        "b3.header": f"{trace_id}-{span_id}-1",
        "upstream.span_id": span_id,
        "message": f"continuing trace {trace_id}",
    }.get(key, trace_id)
    benign("trace_id", key, value)
for key, raw in [
    ("messaging.message.body", b'{"order": 42, "status": "paid"}'),
    ("payload.b64", b'{"a":1}'),
    ("event.data", rng.randbytes(48)),
    ("avatar.thumbnail", rng.randbytes(90)),
    ("message.body", b"hello world, plain text"),
    ("proto.bytes_b64", rng.randbytes(24)),
    ("cursor", b'{"after": "2024-11-01", "id": 991}'),
    ("state.blob", rng.randbytes(33)),
    ("page.token_b64", b"page:3"),
    ("signature.preview", rng.randbytes(20)),
]:
    encoder = base64.urlsafe_b64encode if "cursor" in key else base64.b64encode
    benign("base64", key, encoder(raw).decode())
for key, value in [
    ("service.version", "1.2.3"),
    ("telemetry.sdk.version", "1.45.2"),
    ("process.runtime.version", "3.11.7"),
    ("app.version", "v2.0.1"),
    ("os.version", "14.1"),
    ("network.protocol.version", "1.1"),
    ("deployment.release", "2024.10.1"),
    ("db.system.version", "16.2"),
    ("api.version", "2024-06-20"),
    ("client.version", "10.0.19045"),
]:
    benign("version", key, value)
for key, value in [
    ("order.number", "ORD-2024-000123"),
    ("order.ref", "100045678"),
    ("invoice.number", "INV-88812"),
    ("order.number", "#A-55231"),
    ("shipment.tracking_number", "1Z999AA10123456784"),
    ("po.number", "PO-0004412"),
    ("order.number", "4000012345678"),
    ("ticket.ref", "JIRA-4412"),
    ("booking.reference", "K7Q2ZP"),
    ("customer.account_number", "0012345678"),
]:
    benign("order_number", key, value)
for prefix in ["4", "4", "51", "53", "37", "6011", "35", "4", "55", "2221", "4", "62"]:
    length = 15 if prefix == "37" else 16
    number = luhn_fail(prefix, length)
    if rng.random() < 0.3:
        benign("luhn_fail_16", rng.choice(["account.internal_id", "row.id"]), int(number))
    else:
        benign("luhn_fail_16", rng.choice(["payment.reference", "message", "external.id"]), number)
for key, value in [
    ("gen_ai.usage.input_tokens", 1532),
    ("gen_ai.usage.output_tokens", 211),
    ("llm.token_count.prompt", 980),
    ("gen_ai.request.max_tokens", 4096),
    ("tokenizer.name", "cl100k_base"),
    ("gen_ai.token.type", "input"),
    ("rate_limit.remaining_tokens", 40000),
    ("token.expires_in", 3600),
    ("token_type", "Bearer"),
    ("llm.usage.total_tokens", 2211),
    ("token_count", 15),
    ("gen_ai.usage.cache_read.input_tokens", 512),
]:
    benign("token_count", key, value)
for key, value in [
    ("author", "Jane Doe"),
    ("authors", ("a", "b")),
    ("author.email", "jane@example.com"),
    ("auth.method", "oauth2"),
    ("auth.provider", "google"),
    ("secret_name", "db-creds"),
    ("k8s.secret.name", "app-tls"),
    ("password.length", 14),
    ("password_policy", "strong"),
    ("session.id", "8c1f0e2a9b7d4c3e"),
    ("session.duration", 1800),
    ("cookie_consent", "accepted"),
    ("private_key.path", "/etc/tls/key.pem"),
    ("api_key_id", "key_01HF3Z"),
    ("jwt.alg", "RS256"),
    ("credential.provider", "aws-iam"),
    ("has_password", True),
    ("keyboard.layout", "qwerty"),
    ("passenger.count", 3),
    ("secretary.name", "Sam"),
    ("sessions.active", 12),
    ("authority", "example.com"),
    ("auth.success", True),
    ("session.previous_id", "7d3e1c"),
    ("token.id", "tok_meta_1"),
    ("authorization.policy", "rbac"),
    ("cookie.name", "theme"),
    ("ssn_last4", "1234"),
    ("credit_card.brand", "visa"),
    ("session", True),
]:
    benign("lookalike_key", key, value, ("A003",) if value == "1234" else ())
for key, value in [
    ("http.request.method", "GET"),
    ("url.full", "https://shop.example.com/search?q=shoes&page=2"),
    ("server.address", "api.example.com"),
    ("network.peer.address", "10.0.0.12"),
    (
        "user_agent.original",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    ),
    ("db.query.text", "SELECT id, total FROM orders WHERE customer_id = $1 AND status = 'paid'"),
    ("db.query.text", "SELECT password_hash FROM users WHERE id = ?"),
    ("messaging.destination.name", "orders.v1"),
    ("code.function.name", "shop.checkout.pay"),
    ("exception.message", "connection refused: db01:5432"),
    (
        "exception.stacktrace",
        'Traceback (most recent call last):\n  File "app.py", line 42, in pay\n'
        "ValueError: amount=-1",
    ),
    ("url.full", "https://api.example.com/v1/orders?limit=100&offset=200&sort=created_at"),
    ("http.route", "/orders/{order_id}"),
    ("rpc.method", "grpc.health.v1.Health/Check"),
    ("url.query", "q=token+bucket+algorithm&lang=en"),
]:
    benign("semconv", key, value)
for key, value in [
    ("user.phone", "+1 415 555 0100"),
    ("address.zip", "02134"),
    ("bank.iban", "DE89370400440532013000"),
    ("user.phone", "0044 20 7946 0958"),
    ("address.postcode", "SW1A 1AA"),
    ("tax.vat_id", "DE123456789"),
    ("user.national_phone", "(415) 555-0199"),
    ("product.ean", "4006381333931"),
    ("book.isbn", "978-3-16-148410-0"),
    ("device.imei", "490154203237518"),
]:
    benign("identifier", key, value)
for key, value in [
    ("message", "Payment of 42.50 EUR accepted"),
    ("message", "bearer of bad news"),
    ("plan.description", "Basic plan, billed monthly"),
    ("message", "Basic authentication required"),
    ("message", "The password policy requires 12 characters"),
    ("message", "set token_count=15"),
    ("message", "Authorization header missing"),
    ("message", "password reset requested for user 42"),
    ("message", "key=value pairs: a=1, b=2"),
    ("message", "Bearer token expired, refreshing"),
    ("message", "hugs xoxo from the team"),
    ("message", "use sk-learn for the model"),
    ("message", "retrying in 5s (attempt 3/5)"),
    ("message", "cache key=user:42:profile"),
    ("log.line", "level=info msg=started port=8080 token_ttl=3600"),
]:
    benign("free_text", key, value)
for key, value in [
    ("event.time", "2024-11-23T21:14:00Z"),
    ("event.timestamp_ms", 1732400000000),
    ("event.timestamp_ns", 1732400000000000000),
    ("event.epoch", 1732400000),
    ("log.time", "2024-11-23 21:14:00.123456"),
    ("cron.schedule", "0 */5 * * *"),
    ("duration.human", "1h 22m 03s"),
    ("http.response.header.date", "Sat, 23 Nov 2024 21:14:00 GMT"),
]:
    benign("timestamp", key, value)
for key, value in [
    ("aws.arn", "arn:aws:iam::123456789012:role/app"),
    ("stripe.publishable_key", "pk_live_" + rand(ALNUM, 24)),
    ("stripe.customer", "cus_" + rand(ALNUM, 14)),
    ("stripe.payment_intent", "pi_3" + rand(ALNUM, 23)),
    ("slack.channel", "C024BE91L"),
    ("git.branch", "gh-pages"),
    ("aws.access_key_id.hint", "AKIA…"),
    ("cloud.resource_id", "arn:aws:lambda:eu-west-1:123456789012:function:pay"),
    ("gcp.project", "acme-prod-123456"),
    (
        "azure.resource_id",
        "/subscriptions/" + str(uuid.UUID(int=rng.getrandbits(128))) + "/resourceGroups/rg",
    ),
]:
    benign("vendor_id", key, value)

for key, value in [
    ("exception.message", "password: This field is required."),
    ("url.full", "https://accounts.example.com/cb?session_state=abc123&state=xyz"),
    ("db.connection_string", "Server=db01;Database=shop;Trusted_Connection=True;"),
    ("vcs.repository.url.full", "ssh://git@github.com/acme/app.git"),
    ("user.contact", "mailto:bob@example.com"),
    ("http.request.header.accept-language", "sk-SK,sk;q=0.9"),
    ("task.name", "risk-assessment-2024-11-23-nightly"),
    ("http.response.body", '{"password": ["This field is required."]}'),
    ("log.line", "token_count=42 model=gpt-4o"),
    ("http.response.header.www-authenticate", 'Bearer realm="api", error="invalid_token"'),
    ("oauth.scope", "openid profile email"),
    ("k8s.pod.name", "checkout-7d9f8b6c5d-x2k4p"),
    ("container.image.name", "ghcr.io/acme/checkout:1.4.2"),
    ("url.full", "https://ghcr.io/v2/acme/app/manifests/sha256:" + rand(HEX, 64)),
    ("message", "AKIA is the prefix of AWS access key IDs"),
    ("message", "sk_test_ keys are for test mode"),
    ("file.path", "/var/lib/secrets/README.md"),
    ("message", "Set password policy: min_length=12"),
    ("message", "session expired after 30m"),
    ("http.request.header.content-type", "application/json; charset=utf-8"),
]:
    benign("adversarial", key, value)

# -- held out: written after the detectors, scored before any change to them --
TOKEN = rand(ALNUM, 32)
for key, value in [
    ("http.request.header.user-agent", ("python-requests/2.31.0",)),
    ("http.response.header.etag", ('W/"5e15153d-120f"',)),
    ("http.request.header.x-amzn-trace-id", ("Root=1-67891233-abcdef012345678912345678",)),
    ("messaging.kafka.message.key", "user-4412"),
    ("db.query.text", "SELECT * FROM sessions WHERE expires_at < now()"),
    ("db.query.text", "UPDATE tokens SET revoked = true WHERE id = $1"),
    ("url.full", "https://api.stripe.com/v1/charges?limit=3"),
    ("url.full", "https://www.googleapis.com/oauth2/v3/certs"),
    (
        "graphql.document",
        "mutation Login($password: String!) { login(password: $password) { token } }",
    ),
    ("exception.message", "Invalid API key provided"),
    ("exception.message", "JWT expired at 2024-11-23T21:14:00Z"),
    ("k8s.pod.label.app.kubernetes.io/name", "checkout"),
    ("process.command_args", ("python", "-m", "app", "--port", "8080")),
    ("process.environment_variable.HOME", "/root"),
    ("aws.s3.key", "reports/2024/11/summary.csv"),
    ("aws.request_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
    ("cloud.account.id", "123456789012"),
    ("user.email", "alice@example.com"),
    ("feature_flag.key", "new-checkout"),
    ("message", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 deploy@ci"),
]:
    benign("held_out_benign", key, value)
for key, value, token, rules in [
    ("http.request.header.authorization", ["Bearer " + TOKEN], "Bearer " + TOKEN, ("A004",)),
    (
        "message",
        f"curl -H 'Authorization: Bearer {TOKEN}' https://api.example.com",
        TOKEN,
        ("A005",),
    ),
    ("url.full", "https://user:p%40ss-w0rd@host.example.com/x", "p%40ss-w0rd", ("A005",)),
    ("db.query.text", "CREATE USER app WITH PASSWORD 'S3cr3t-pw!'", "S3cr3t-pw!", ("A005",)),
    (
        "db.query.text",
        "ALTER USER 'app'@'%' IDENTIFIED BY 'Sup3r-s3cret'",
        "Sup3r-s3cret",
        ("A005",),
    ),
    ("log.line", "password=hunter22 user=bob", "hunter22", ("A005",)),
    (
        "messaging.message.body",
        '{"card":{"number":"4242424242424242","cvc":"123"}}',
        "4242424242424242",
        ("A005",),
    ),
    (
        "exception.message",
        "could not connect: postgresql://svc:S3cretPw@db:5432/x",
        "S3cretPw",
        ("A005",),
    ),
    (
        "http.request.body",
        "grant_type=password&username=bob&password=hunter22",
        "hunter22",
        ("A005",),
    ),
    ("http.request.body", "client_id=abc&client_secret=xyz123456789", "xyz123456789", ("A005",)),
    ("gen_ai.prompt", "my api key is sk-proj-" + TOKEN + TOKEN[:10], TOKEN, ("A005",)),
    ("process.environment_variable.GITHUB_TOKEN", "ghp_" + rand(ALNUM, 36), None, ("A004",)),
    ("message", "GITHUB_TOKEN=ghp_" + TOKEN + "abcd", TOKEN, ("A005",)),
    ("config.dump", "aws_secret_access_key = " + rand(ALNUM + "/+", 40), None, ("A005",)),
    (
        "message",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n"
        + rand(ALNUM, 64)
        + "\n-----END PGP PRIVATE KEY BLOCK-----",
        None,
        ("A005",),
    ),
]:
    if token is None:  # the part after "= ", or the PEM body
        after = value.split("= ")[-1] if "= " in value else value
        secret(
            "held_out_secret",
            key,
            value,
            after.split("\n")[1] if "BEGIN" in after else after,
            rules=rules,
        )
    else:
        secret("held_out_secret", key, value, token, rules=rules)

# -- the other rules: values are not secrets -----------------------------------
for key, value, rules in [
    ("userId", "u-1", ("A001",)),
    ("User ID", "u-1", ("A001",)),
    ("order..amount", 3, ("A001",)),
    ("Order.Total", 3, ("A001",)),
    ("http-status", "ok", ("A001",)),
    ("order.amount", "42.50", ("A003",)),
    ("retry.count", "3", ("A003",)),
    ("queue.depth", "-1", ("A003",)),
    ("error", "timeout", ("A002",)),
    ("http.response.status_code", "200", ("A002",)),
    ("http.response.status_code", 700, ("A002",)),
    ("span.kind", "rpc", ("A002",)),
    ("sampling.priority", "1", ("A002",)),
    ("error", True, ()),
    ("http.method", "GET", ("A006",)),
    ("net.peer.name", "db01", ("A006",)),
    ("http.status_code", 200, ("A006",)),
    ("http.status_code", "404", ("A002", "A006")),
    ("db.statement", "SELECT 1", ("A006",)),
    ("peer.service", "billing", ("A006",)),
]:
    benign("other_rules", key, value, rules)


def _escaped(text: str) -> str:
    chars = list(text)
    for i in range(3, len(chars), 8):
        if chars[i].isalnum():
            chars[i] = f"\\u{ord(chars[i]):04x}"
    return json.dumps("".join(chars), ensure_ascii=False).replace("\\\\u", "\\u")


def dump(case: dict) -> str:
    line = json.dumps(case, ensure_ascii=False)
    if case["kind"] != "secret":
        return line
    # Escape every eighth character of the secret strings (see the module docstring).
    value = case["value"]
    texts = [*(value if isinstance(value, list) else [value]), case["secret"]]
    for text in sorted({t for t in texts if isinstance(t, str)}, key=len, reverse=True):
        line = line.replace(json.dumps(text, ensure_ascii=False), _escaped(text))
    assert json.loads(line) == case, case
    return line


if __name__ == "__main__":
    OUT.write_text("".join(dump(c) + "\n" for c in cases), encoding="utf-8")
    kinds = {k: sum(c["kind"] == k for c in cases) for k in ("secret", "benign")}
    print(f"wrote {len(cases)} cases to {OUT} ({kinds})")
