#!/usr/bin/env python3
"""raqib at scale, against rss2email, on this machine (not a test).

One nginx on loopback serves N feeds (10 Arabic items each) spread over
HOSTS loopback addresses (127.1.x.y: every address of 127/8 is the loopback
interface), so per-host politeness applies as it does on the web; one
aiosmtpd sink on 127.0.0.1 takes every message. Then:

  raqib once   round 1: every feed new (all items new)
  (half the feeds get one new item; the other half answer 304)
  raqib once   round 2

and rss2email 3.14 over the first BASELINE feeds, the same two rounds, into
the same SMTP sink. Wall time and peak RSS (of the process and its children,
from GNU time) for each, and feeds per second.

Usage: benches/feeds.sh [N] (the wrapper installs nginx, rss2email, aiosmtpd).
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
BASELINE = min(N, int(os.environ.get("BASELINE", "1000")))
HOSTS = int(os.environ.get("HOSTS", "1000"))
ITEMS = 10
PORT = 18080
SMTP_PORT = 12525
RAQIB = os.environ.get("RAQIB", "target/release/raqib")
R2E = os.environ.get("R2E", "r2e")

random.seed(7)

# A vocabulary of real words (news register) and generated ones, so that
# items are distinct texts in Arabic script; about 1 item in 100 is on the
# watchlist's topic (Syria in US–Russia relations).
WORDS = (
    "الحكومة البرلمان الوزير الرئيس الاقتصاد الأسواق النفط الطاقة الانتخابات المعارضة "
    "المدينة المحافظة الشرطة المحكمة القرار الاتفاق المفاوضات الأزمة الاحتجاجات الجامعة "
    "المستشفى الصحة التعليم الزراعة المياه الكهرباء الميناء المطار الشركة البنك العملة "
    "الأسعار التضخم الضرائب الموازنة الاستثمار التجارة الصادرات الواردات المصنع العمال "
    "أعلن قال أكد أضاف أشار كشف نفى دعا طالب حذر رحب انتقد وافق رفض بحث ناقش زار التقى "
    "اليوم أمس غدا الأسبوع الشهر العام صباح مساء خلال بعد قبل منذ حتى نحو أكثر أقل"
).split()
LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
for _ in range(3000):
    WORDS.append("".join(random.choice(LETTERS) for _ in range(random.randint(3, 7))))
TOPIC = [
    "قال وزير الخارجية الروسي إن موسكو وواشنطن بحثتا الوضع في سوريا",
    "أعلن البنتاغون أن الولايات المتحدة تواصل اتصالاتها مع روسيا بشأن الأجواء السورية",
    "بحث بوتين وترامب في اتصال هاتفي الملف السوري والتنسيق العسكري في سوريا",
]


def sentence(n):
    return " ".join(random.choice(WORDS) for _ in range(n))


def item(feed, k, now):
    on_topic = random.random() < 0.01
    title = random.choice(TOPIC) if on_topic else sentence(8)
    body = " ".join(sentence(12) + "." for _ in range(5))
    if on_topic:
        body = title + ". " + body
    return {
        "guid": f"f{feed}-i{k}",
        "title": f"{title} {feed}-{k}",
        "body": body,
        "date": formatdate(now - k * 900, usegmt=True),
    }


def rss(feed, items):
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
        f"<title>موقع {feed}</title><link>http://example.org/{feed}</link><description>أخبار</description>",
    ]
    for it in items:
        out.append(
            f"<item><title>{it['title']}</title><link>http://example.org/{feed}/{it['guid']}</link>"
            f"<guid>{it['guid']}</guid><pubDate>{it['date']}</pubDate>"
            f"<description>{it['body']}</description></item>"
        )
    out.append("</channel></rss>\n")
    return "".join(out)


def host(i):
    h = i % HOSTS
    return f"127.1.{h // 250}.{h % 250 + 1}"


def url(i):
    return f"http://{host(i)}:{PORT}/f/{i}.xml"


def wait_port(addr, port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{addr}:{port} did not open")


def timed(cmd, **kw):
    """Runs cmd; returns (seconds, peak RSS in MB, rc). With TRACE_RSS set,
    prints the RSS every half second to stderr.

    The peak comes from GNU time, not from this script's wait4: a child's
    maxrss starts at its parent's RSS when it forks, and this script holds
    every generated item (over 200 MB), which every figure then showed."""
    rss_file = tempfile.NamedTemporaryFile(prefix="maxrss-", delete=False)
    rss_file.close()
    cmd = ["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file.name] + cmd
    try:
        wall, rc = watched(cmd, **kw)
        with open(rss_file.name) as f:
            peak_kb = int(f.read().split()[-1])
    finally:
        os.unlink(rss_file.name)
    return wall, peak_kb / 1024, rc


def watched(cmd, **kw):
    start = time.monotonic()
    p = subprocess.Popen(cmd, **kw)
    if os.environ.get("TRACE_RSS"):
        while p.poll() is None:
            try:
                # The command itself, under GNU time.
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    pid = int(f.read().split()[0])
                with open(f"/proc/{pid}/status") as f:
                    rss = [l for l in f if l.startswith("VmRSS")][0].split()[1]
                fds = len(os.listdir(f"/proc/{pid}/fd"))
                threads = len(os.listdir(f"/proc/{pid}/task"))
                print(f"{time.monotonic() - start:.1f}s {int(rss) // 1024}MB {fds}fd {threads}threads",
                      file=sys.stderr)
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(0.5)
    rc = p.wait()
    return time.monotonic() - start, rc


def main():
    work = tempfile.mkdtemp(prefix="raqib-feeds-")
    os.chmod(work, 0o755)
    feeds_dir = os.path.join(work, "www", "f")
    os.makedirs(feeds_dir)
    now = time.time()
    for i in range(N):
        items[i] = [item(i, k, now) for k in range(ITEMS)]
        with open(os.path.join(feeds_dir, f"{i}.xml"), "w") as f:
            f.write(rss(i, items[i]))
    for root, dirs, files in os.walk(work):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)

    listens = "\n".join(f"    listen {host(h)}:{PORT};" for h in range(min(HOSTS, N)))
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(
            f"""worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  types {{ application/rss+xml xml; }}
  server {{
{listens}
    root {work}/www;
  }}
}}
"""
        )
    subprocess.run(["nginx", "-c", conf, "-p", work], check=True)
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{SMTP_PORT}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(host(0), PORT)
        wait_port("127.0.0.1", SMTP_PORT)
        results = run_both(work)
    finally:
        sink.send_signal(signal.SIGTERM)
        subprocess.run(["nginx", "-c", conf, "-p", work, "-s", "stop"])
    print(json.dumps(results, indent=1))
    if os.environ.get("KEEP"):
        print(f"kept {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)


def folder_mb(path):
    """What the files under `path` take (MiB), the database's size after a round."""
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    return round(total / 2**20, 1)


def run_both(work):
    cfg = os.path.join(work, "raqib.toml")
    with open(cfg, "w") as f:
        f.write(
            f'[storage]\npath = "{work}/db"\n'
            f'[email]\nto = ["analyst@example.org"]\n'
            f'[email.smtp]\nhost = "127.0.0.1"\nport = {SMTP_PORT}\n'
        )
        # RAQIB_POLL: extra [poll] keys, e.g. 'host_interval = "0s"'.
        if os.environ.get("RAQIB_POLL"):
            f.write("[poll]\n" + os.environ["RAQIB_POLL"].replace(";", "\n") + "\n")
        for i in range(N):
            f.write(f'[[feeds]]\nurl = "{url(i)}"\nname = "موقع {i}"\n')
    env = dict(os.environ, RUST_LOG="warn")
    out = {"feeds": N, "hosts": min(HOSTS, N), "items_per_feed": ITEMS}

    def once(n):
        cmd = [RAQIB, "--config", cfg, "once"]
        if os.environ.get("PROFILE"):
            cmd = ["perf", "record", "-F", "299", "-g", "-o", f"{work}/perf{n}.data"] + cmd
        # HEAPTRACK=2: round 2 under heaptrack (allocations, not time).
        if os.environ.get("HEAPTRACK") == str(n):
            cmd = ["heaptrack", "-o", f"{work}/heap{n}"] + cmd
        return timed(cmd, env=env, stderr=open(f"{work}/raqib{n}.log", "w"))

    r1 = once(1)
    db1 = folder_mb(f"{work}/db")
    edit(work)
    r2 = once(2)
    db2 = folder_mb(f"{work}/db")
    for name, (wall, rss_mb, rc), db_mb in (("raqib_round1", r1, db1), ("raqib_round2", r2, db2)):
        out[name] = {"seconds": round(wall, 2), "peak_rss_mb": round(rss_mb, 1), "exit": rc,
                     "feeds_per_s": round(N / wall, 1), "db_mb": db_mb}
        with open(f"{work}/raqib{name[-1]}.log") as f:
            out[name]["summary"] = f.read().strip().splitlines()[-1:]

    if os.environ.get("SKIP_BASELINE"):
        return out
    restore(work)
    b1, b2 = rss2email(work)
    for name, (wall, rss_mb, rc) in (("rss2email_round1", b1), ("rss2email_round2", b2)):
        out[name] = {"feeds": BASELINE, "seconds": round(wall, 2), "peak_rss_mb": round(rss_mb, 1),
                     "exit": rc, "feeds_per_s": round(BASELINE / wall, 1)}
    for r in ("1", "2"):
        out[f"ratio_round{r}"] = round(out[f"raqib_round{r}"]["feeds_per_s"] / out[f"rss2email_round{r}"]["feeds_per_s"], 1)
    return out


items = {}
originals = {}


def edit(work):
    for i in range(0, N, 2):
        path = os.path.join(work, "www", "f", f"{i}.xml")
        with open(path) as f:
            originals[i] = f.read()
        new = item(i, 100, time.time())
        with open(path, "w") as f:
            f.write(rss(i, [new] + items[i]))
        items[i] = [new] + items[i]


def restore(work):
    """rss2email starts from the round-1 files, like raqib did."""
    for i, text in originals.items():
        with open(os.path.join(work, "www", "f", f"{i}.xml"), "w") as f:
            f.write(text)
        items[i] = items[i][1:]


def rss2email(work):
    home = os.path.join(work, "r2e")
    os.makedirs(home)
    cfg = os.path.join(home, "rss2email.cfg")
    data = os.path.join(home, "rss2email.json")
    with open(cfg, "w") as f:
        f.write(
            "[DEFAULT]\nto = analyst@example.org\nfrom = r2e@localhost\n"
            "email-protocol = smtp\n"
            f"smtp-server = 127.0.0.1:{SMTP_PORT}\nsmtp-auth = False\nsmtp-ssl = False\n"
        )
        for i in range(BASELINE):
            f.write(f"\n[feed.f{i}]\nurl = {url(i)}\n")
    with open(data, "w") as f:
        json.dump({"version": 2, "feeds": []}, f)
    cmd = [R2E, "-c", cfg, "-d", data, "run"]
    log = open(f"{home}/run.log", "w")
    b1 = timed(cmd, stdout=log, stderr=log)
    for i in range(0, BASELINE, 2):
        new = item(i, 100, time.time())
        with open(os.path.join(work, "www", "f", f"{i}.xml"), "w") as f:
            f.write(rss(i, [new] + items[i]))
    b2 = timed(cmd, stdout=log, stderr=log)
    return b1, b2


if __name__ == "__main__":
    main()
