"""The Python baseline for the text benchmark: regex normalisation, line
de-duplication and datasketch MinHash (64 permutations) over word 3-grams,
on the same 4 KB articles as `cargo bench --bench engine`, on one core.
Prints articles per second: the best of five rounds, and their median."""
import json
import re
import sys
import time

from datasketch import MinHash

DIACRITICS = re.compile("[\u064b-\u065f\u0670\u0640]")
ALEF = re.compile("[\u0623\u0625\u0622\u0671]")
NON_WORD = re.compile(r"\W+")
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")


def normalise(s):
    s = DIACRITICS.sub("", s)
    s = ALEF.sub("\u0627", s)
    s = s.replace("\u0649", "\u064a").replace("\u0629", "\u0647")
    return s.translate(DIGITS).lower()


def process(title, body):
    seen = set()
    tokens = []
    for line in body.split("\n"):
        key = normalise(line).strip()
        if not key or key in seen:
            continue
        seen.add(key)
        tokens.extend(t for t in NON_WORD.split(key) if t)
    m = MinHash(num_perm=64)
    # update_batch: datasketch's fastest path (numpy over all shingles).
    m.update_batch([" ".join(tokens[i : i + 3]).encode("utf-8") for i in range(len(tokens) - 2)])
    return m


def main():
    docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    # Five rounds of two seconds: the best round is the one the machine's
    # other load disturbed least (noise only ever adds time).
    rates = []
    n = 0
    for _ in range(5):
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < 2.0:
            d = docs[n % len(docs)]
            process(d["title"], d["body"])
            n += 1
            done += 1
        rates.append(done / (time.perf_counter() - start))
    rates.sort()
    print(json.dumps({
        "baseline": "python regex + datasketch MinHash(64)",
        "articles_per_s": round(rates[-1], 1),
        "median_articles_per_s": round(rates[len(rates) // 2], 1),
    }))


if __name__ == "__main__":
    main()
