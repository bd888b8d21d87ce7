"""A corpus of credentials in the places they turn up in terminal and agent sessions, and of
ordinary lines that look a little like them but must come through redaction untouched.

``SECRETS`` is a list of ``Leak(family, line, secrets)``: ``line`` is how the credential
appears (a command, a config line, a header, a URL) and ``secrets`` are the substrings that
must not survive redaction anywhere. ``ORDINARY`` is code, shell, hashes, UUIDs and
base64 that redaction must leave exactly as they are.

Every credential is fake: built here from a seeded random generator, so the values are
stable from run to run and this file holds no string a secret scanner would flag.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import uuid
from dataclasses import dataclass

_RNG = random.Random(20)
ALNUM = string.ascii_letters + string.digits
LOWER_HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"


def rnd(alphabet: str, n: int) -> str:
    """``n`` random characters of ``alphabet``; from 8 on, with at least one digit, one
    lower and one upper case letter when the alphabet has them (real tokens do)."""
    while True:
        s = "".join(_RNG.choice(alphabet) for _ in range(n))
        needs = [set(string.digits), set(string.ascii_lowercase), set(string.ascii_uppercase)]
        if n < 8 or all(not (c & set(alphabet)) or (c & set(s)) for c in needs):
            return s


def pw() -> str:
    """A password as people type them: letters, digits and a symbol, starting with a letter."""
    return rnd(string.ascii_letters, 1) + rnd(ALNUM, 12) + _RNG.choice("!^_.") + rnd(string.digits, 2)


@dataclass(frozen=True)
class Leak:
    family: str
    line: str
    secrets: tuple[str, ...]


def _leaks() -> list[Leak]:
    out: list[Leak] = []

    def add(family: str, line: str, *secrets: str) -> None:
        assert all(s in line for s in secrets), (family, line)
        out.append(Leak(family, line, secrets))

    k = "sk-ant-api03-" + rnd(URLSAFE, 93) + "AA"
    add("anthropic", f"export ANTHROPIC_API_KEY={k}", k)
    k = "sk-ant-api03-" + rnd(URLSAFE, 93) + "AA"
    add("anthropic", f'curl https://api.anthropic.com/v1/messages -H "x-api-key: {k}"', k)

    k = "sk-proj-" + rnd(URLSAFE, 156)
    add("openai", f"OPENAI_API_KEY={k} python agent.py", k)
    k = "sk-" + rnd(ALNUM, 20) + "T3BlbkFJ" + rnd(ALNUM, 20)
    add("openai", f'client = OpenAI(api_key="{k}")', k)

    k = "ghp_" + rnd(ALNUM, 36)
    add("github", f"git clone https://{k}@github.com/acme/infra.git", k)
    k = "ghp_" + rnd(ALNUM, 36)
    add("github", f"export GITHUB_TOKEN={k} && psql postgres://admin:Qz7pL2mVx9wK@db", k, "Qz7pL2mVx9wK")
    k = "github_pat_" + rnd(ALNUM, 22) + "_" + rnd(ALNUM, 59)
    add("github", f"gh auth login --with-token <<< {k}", k)
    k = "gho_" + rnd(ALNUM, 36)
    add("github", f"oauth token for the app is {k}", k)

    k = "glpat-" + rnd(URLSAFE, 20)
    add("gitlab", f"export GITLAB_TOKEN={k}", k)
    k = "glpat-" + rnd(URLSAFE, 20)
    add("gitlab", f'curl --header "PRIVATE-TOKEN: {k}" https://gitlab.example.com/api/v4/projects', k)

    k = "AKIA" + rnd(string.ascii_uppercase + string.digits, 16)
    add("aws-key-id", f"aws_access_key_id = {k}", k)
    k = "AKIA" + rnd(string.ascii_uppercase + string.digits, 16)
    s = rnd(B64, 40)
    add("aws-key-id", f"deploy,{k},{s}", k, s)

    s = rnd(B64, 40)
    add("aws-secret", f"aws_secret_access_key = {s}", s)
    s = rnd(B64, 40)
    add("aws-secret", f'export AWS_SECRET_ACCESS_KEY="{s}"', s)

    k = "sk_live_" + rnd(ALNUM, 99)
    add("stripe", f'stripe.api_key = "{k}"', k)
    k = "rk_live_" + rnd(ALNUM, 99)
    add("stripe", f"curl https://api.stripe.com/v1/charges -u {k}:", k)
    k = "sk_live_" + rnd(ALNUM, 24)
    add("stripe", f"STRIPE_KEY {k}", k)

    k = "AIza" + rnd(URLSAFE, 35)
    add("google", f"curl 'https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key={k}'", k)
    k = "AIza" + rnd(URLSAFE, 35)
    add("google", f'const firebaseConfig = {{ apiKey: "{k}", projectId: "demo" }};', k)

    k = "hf_" + rnd(string.ascii_letters, 34)
    add("huggingface", f"huggingface-cli login --token {k}", k)
    k = "hf_" + rnd(string.ascii_letters, 34)
    add("huggingface", f"login(token={k!r})", k)

    k = "npm_" + rnd(ALNUM, 36)
    add("npm", f"//registry.npmjs.org/:_authToken={k}", k)
    k = "npm_" + rnd(ALNUM, 36)
    add("npm", f"npm config set //npm.pkg.github.com/:_authToken {k}", k)

    k = "SG." + rnd(URLSAFE, 22) + "." + rnd(URLSAFE, 43)
    add("sendgrid", f"sg = SendGridAPIClient({k!r})", k)
    k = "SG." + rnd(URLSAFE, 22) + "." + rnd(URLSAFE, 43)
    add("sendgrid", f"Using key {k} for mail", k)

    k = "xoxb-" + rnd(string.digits, 12) + "-" + rnd(string.digits, 13) + "-" + rnd(ALNUM, 24)
    add("slack", f"SLACK_BOT={k}", k)
    k = (
        "xoxp-"
        + rnd(string.digits, 12)
        + "-"
        + rnd(string.digits, 12)
        + "-"
        + rnd(string.digits, 13)
        + "-"
        + rnd(LOWER_HEX, 32)
    )
    add("slack", f"slack token is {k}", k)
    k = (
        "xapp-1-A"
        + rnd(string.ascii_uppercase + string.digits, 10)
        + "-"
        + rnd(string.digits, 13)
        + "-"
        + rnd(LOWER_HEX, 64)
    )
    add("slack", f"app-level token: {k}", k)

    p = (
        "T"
        + rnd(string.ascii_uppercase + string.digits, 8)
        + "/B"
        + rnd(string.ascii_uppercase + string.digits, 10)
        + "/"
        + rnd(ALNUM, 24)
    )
    add("slack-webhook", f"curl -X POST -d @msg.json https://hooks.slack.com/services/{p}", p.split("/")[-1])

    t = rnd(URLSAFE, 68)
    add("discord-webhook", f"WEBHOOK=https://discord.com/api/webhooks/{rnd(string.digits, 18)}/{t}", t)
    t = rnd(URLSAFE, 68)
    add(
        "discord-webhook",
        f"requests.post('https://discordapp.com/api/webhooks/{rnd(string.digits, 18)}/{t}', json=m)",
        t,
    )

    k = "M" + rnd(URLSAFE, 23) + "." + rnd(URLSAFE, 6) + "." + rnd(URLSAFE, 27)
    add("discord-bot", f"client.run('{k}')", k)

    k = "SK" + rnd(LOWER_HEX, 32)
    add("twilio", f"twilio api:core:keys:fetch --sid {k}", k)
    k = "SK" + rnd(LOWER_HEX, 32)
    add("twilio", f"Client({k!r}, api_secret)", k)
    s = rnd(LOWER_HEX, 32)
    add("twilio", f"TWILIO_AUTH_TOKEN={s}", s)

    k = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + rnd(URLSAFE, 60) + "." + rnd(URLSAFE, 43)
    add("jwt", f"Authorization: Bearer {k}", k)
    k = "eyJhbGciOiJSUzI1NiJ9." + rnd(URLSAFE, 80) + "." + rnd(URLSAFE, 86)
    add("jwt", f"Cookie: session={k}; Path=/", k)

    body = [rnd(B64, 64) for _ in range(4)]
    add("private-key", "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END RSA PRIVATE KEY-----", *body)
    body = [rnd(B64, 70) for _ in range(3)]
    add(
        "private-key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END OPENSSH PRIVATE KEY-----",
        *body,
    )
    body = [rnd(B64, 64) for _ in range(3)]
    add(
        "private-key",
        '"private_key": "-----BEGIN PRIVATE KEY-----\\n' + "\\n".join(body) + '\\n-----END PRIVATE KEY-----\\n",',
        *body,
    )

    p = pw()
    add("url-password", f"psql postgres://admin:{p}@db.internal:5432/app", p)
    p = pw()
    add("url-password", f'MONGO_URL="mongodb+srv://app:{p}@cluster0.abcde.mongodb.net/prod"', p)
    p = pw()
    add("url-password", f"amqp://guest:{p}@rabbit:5672/", p)

    p = pw()
    add("redis", f"redis-cli -u redis://:{p}@cache.internal:6379/0 ping", p)
    p = pw()
    add("redis", f"REDIS_URL=rediss://:{p}@redis.example.com:6380", p)

    p = pw()
    add("mysql", f"mysql -h db -u root -p{p} app < schema.sql", p)
    p = pw()
    add("mysql", f"mysqldump -uroot -p{p} --all-databases > dump.sql", p)
    p = pw()
    add("mysql", f"mysql --user=root --password={p} -e 'show databases'", p)

    p = pw()
    add("curl-user", f"curl -u admin:{p} https://jenkins.example.com/api/json", p)
    p = pw()
    add("curl-user", f"curl -s --user deploy:{p} -X POST https://ci.example.com/build", p)

    p = pw()
    add("sshpass", f"sshpass -p '{p}' ssh root@10.0.0.5 uptime", p)
    p = pw()
    add("sshpass", f"sshpass -p {p} scp backup.tar.gz admin@backup:/srv", p)

    p = pw()
    add("yaml-password", f"  password: {p}", p)
    p = pw()
    add("yaml-password", f"passwd: {p}", p)
    p = pw()
    add("yaml-password", f'    db_password: "{p}"', p)

    s = rnd(LOWER_HEX, 128)
    add("secret-key-base", f"  secret_key_base: {s}", s)
    s = rnd(LOWER_HEX, 128)
    add("secret-key-base", f"SECRET_KEY_BASE={s} bin/rails server", s)
    s = rnd(ALNUM + "!@#%^&*(-_=+)", 50)
    add("secret-key-base", f"SECRET_KEY = '{s}'", s)

    p = pw()
    add("env-password", f"PGPASSWORD={p} psql -h db -U app", p)
    p = pw()
    add("env-password", f"export DATABASE_PASSWORD={p}", p)
    s = rnd(ALNUM, 32)
    add("env-password", f"API_TOKEN={s} ./deploy.sh", s)

    s = rnd(URLSAFE, 40)
    add("bearer", f'-H "Authorization: Bearer {s}"', s)
    s = base64.b64encode(f"admin:{pw()}".encode()).decode()
    add("bearer", f"Authorization: Basic {s}", s)

    k = "pypi-AgEIcHlwaS5vcmc" + rnd(URLSAFE, 150)
    add("pypi", f"twine upload -u __token__ -p {k} dist/*", k)
    k = "pypi-AgEIcHlwaS5vcmc" + rnd(URLSAFE, 150)
    add("pypi", f"password = {k}", k)

    k = rnd(LOWER_HEX, 32) + "-us14"
    add("mailchimp", f"client.set_config({{'api_key': MC, 'server': 'us14'}})  # MC={k}", k)

    k = "sq0csp-" + rnd(URLSAFE, 43)
    add("square", f"square oauth secret {k}", k)

    k = rnd(string.digits, 9) + ":AA" + rnd(URLSAFE, 33)
    add("telegram", f"curl https://api.telegram.org/bot{k}/getMe", k)

    k = rnd(B64, 86) + "=="
    add(
        "azure-storage",
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={k};EndpointSuffix=core.windows.net",
        k,
    )

    p = pw()
    add("cli-password", f"docker login -u deploy -p {p} registry.example.com", p)
    p = pw()
    add("cli-password", f"psql --password {p} --host db", p)
    t = rnd(ALNUM, 40)
    add("cli-password", f"vault login -method=token --token {t}", t)
    return out


SECRETS: list[Leak] = _leaks()
FAMILIES: frozenset[str] = frozenset(leak.family for leak in SECRETS)


def _ordinary() -> list[str]:
    lines = """\
def get_user(user_id: int) -> User:
    return db.session.get(User, user_id)
password = os.environ["DB_PASSWORD"]
token = get_token(scope="read")
api_key: str | None = None
if not password:
    raise ValueError("password is required")
response = client.messages.create(model=model, max_tokens=4096, messages=msgs)
token_count += len(tokens)
password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
const secret = process.env.SECRET;
export PATH="$HOME/.local/bin:$PATH"
git commit -m "Add password reset flow"
curl -u "$USER:$PASS" https://api.example.com/status
mysql -u root -p app
sshpass -p "$SSHPASS" ssh deploy@host
password: ${DB_PASSWORD}
token: ${{ secrets.GITHUB_TOKEN }}
redis-cli -h localhost -p 6379 ping
REDIS_URL=redis://localhost:6379/0
DATABASE_URL=postgres://localhost/app_dev
git clone https://github.com/acme/infra.git
git remote add origin git@github.com:acme/infra.git
docker compose up -d --build
docker run --rm -p 8080:80 nginx:1.27-alpine
kubectl get pods -n production -o wide
npm install --save-dev typescript@5.6.3
pip install "fastapi>=0.115" uvicorn[standard]
cargo build --release --target x86_64-unknown-linux-musl
go test ./... -run TestParse -count=1
pytest -q -x tests/test_vault.py::test_sweep_archives_old_sessions
FAILED tests/test_auth.py::test_login_rejects_a_wrong_password - AssertionError
for (let i = 0; i < items.length; i++) { total += items[i].price; }
fn main() { println!("{}", args().nth(1).unwrap_or_default()); }
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
SELECT id, name FROM users WHERE email = ? AND deleted_at IS NULL;
CREATE INDEX sessions_last_activity ON sessions (last_activity_at);
class TokenBucket:
    def __init__(self, rate: float, capacity: int) -> None:
        self.tokens = capacity
self.secret_name = secret_name
const apiKey = config.get("apiKey");
api_key = STRIPE_SECRET_KEY
password: string;
interface Credentials { username: string; password: string }
if (token === undefined) return null;
useEffect(() => { fetchToken().then(setToken); }, []);
headers = {"Authorization": f"Bearer {token}"}
auth = HTTPBasicAuth(username, password)
export const handler = async (event) => ({ statusCode: 200 });
ls -la ~/.ssh/
ssh-keygen -t ed25519 -C "me@example.com"
chmod 600 ~/.ssh/id_ed25519
openssl rand -hex 32
gpg --armor --export me@example.com > public.asc
tar --zstd -xf archive.tar.zst -C ~/restore
rsync -avz --delete build/ web:/var/www/site/
find . -name '*.pyc' -delete
grep -rn "TODO" src/ | wc -l
sed -i 's/localhost/db/g' docker-compose.yml
awk -F, '{ sum += $3 } END { print sum }' sales.csv
echo "Build finished in 12.4s"
INFO Running upgrade 1a2b -> 3c4d, add users table
Starting api ... done
Listening on http://127.0.0.1:8000 (Press CTRL+C to quit)
2024-05-01T12:00:00.123Z INFO request_id=8d3f status=200 path=/api/v1/users
WARNING: Retrying (Retry(total=4)) after connection broken by 'ProtocolError'
Traceback (most recent call last):
  File "/home/me/src/api/app/main.py", line 42, in <module>
KeyError: 'SECRET_KEY'
The user asked to rotate the API key; I updated the settings page to show the key id only.
Let me check the password validation logic in auth/forms.py.
I'll add a test for the token refresh path.
arn:aws:iam::123456789012:role/deploy-role
arn:aws:s3:::my-bucket/logs/2024/05/01/
s3://acme-backups/db/2024-05-01.sql.gz
https://example.com/search?q=password+reset&page=2
https://github.com/acme/infra/blob/main/README.md#installation
git@gitlab.com:acme/platform.git
version = "1.4.2"
"react": "^18.3.1",
"jsonwebtoken": "^9.0.2",
"typescript": "~5.6.3",
python_requires = ">=3.11"
ENV PYTHONUNBUFFERED=1
FROM python:3.12-slim AS build
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
EXPOSE 8080
listen 443 ssl http2;
server_name api.example.com;
proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
127.0.0.1 localhost
192.168.1.20 nas.local
fe80::1ff:fe23:4567:890a
Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36
\tat com.example.app.MainKt.main(Main.kt:12)
android.os.BinderProxy@2bd7c9a
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop
""".splitlines()
    rng = random.Random(200)
    for i in range(30):
        lines.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    for i in range(12):
        data = f"ordinary content {i}".encode()
        lines.append(hashlib.sha1(data).hexdigest())
        lines.append(hashlib.sha256(data).hexdigest())
    for i in range(6):
        data = f"file {i}".encode()
        lines.append(f"commit {hashlib.sha1(data).hexdigest()}")
        lines.append(f"ghcr.io/acme/api@sha256:{hashlib.sha256(data).hexdigest()}")
        lines.append(f"{hashlib.md5(data).hexdigest()}  dist/app-{i}.tar.gz")
        lines.append(f'"integrity": "sha512-{base64.b64encode(hashlib.sha512(data).digest()).decode()}",')
        lines.append(f"request {uuid.UUID(int=rng.getrandbits(128), version=4)} took {rng.randint(3, 900)} ms")
    for i in range(12):
        raw = bytes(rng.getrandbits(8) for _ in range(rng.randint(24, 90)))
        lines.append(base64.b64encode(raw).decode())
    for i in range(8):
        text = f"hello world number {i}, an ordinary sentence to encode".encode()
        lines.append(f"echo {base64.b64encode(text).decode()} | base64 -d")
    lines.append(
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    return lines


ORDINARY: list[str] = _ordinary()
