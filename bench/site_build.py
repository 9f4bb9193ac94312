"""Benchmark: the static site with its explorer pictures (issue 22): build time, sizes, in-browser response.

Builds the site (`fmlite.tools.site.build_site`) into a folder, prints its build time, the size of each page
with its explorer pictures and of the whole site, then opens every page with explorers in Debian's Chromium
(playwright, from file://) and measures, for every control, the time from a key press (arrow key on a slider,
a new option of a menu) to the frame that paints the new picture: median and max over all moves.

    python bench/site_build.py                 # the full site into /tmp/fmlite-site-bench (minutes)
    python bench/site_build.py --quick         # the few-setting grids of tests
    python bench/site_build.py --out DIR --moves 10 --shots DIR   # screenshots at 1280 and 390 px wide

Budgets (issue 22): whole site < 80 MB, any page with its pictures < 15 MB, the full build < 5 minutes for
notebooks 00-08; key press to painted picture median <= 50 ms, max <= 150 ms. Timings on a shared machine are
inflated by its load.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]

#: Installed in the page: the time from a keydown, pointerdown or input on a control to just after the frame that
#: paints the explorer's new picture (a task queued from the animation frame after it loaded), in ms, appended
#: to window.fmliteLatency.
LATENCY_PROBE = """() => {
  window.fmliteLatency = [];
  document.querySelectorAll('.fmlite-explorer').forEach(root => {
    const img = root.querySelector('img.fmlite-picture');
    let t0 = null;
    const start = () => { if (t0 === null) t0 = performance.now(); };
    for (const kind of ['keydown', 'pointerdown', 'input']) root.addEventListener(kind, start, true);
    const done = () => { if (t0 === null) return; const s = t0; t0 = null;  // after the frame that paints it
      requestAnimationFrame(() => setTimeout(() => window.fmliteLatency.push(performance.now() - s), 0)); };
    new MutationObserver(() => { if (img.complete) done(); else img.addEventListener('load', done, {once: true}); })
      .observe(img, {attributes: true, attributeFilter: ['src']});
  });
}"""


def page_sizes(out: Path) -> dict:
    """{page: bytes of the page and the explorer pictures it shows} and "site": bytes of the whole folder."""
    sizes = {}
    for page in sorted(out.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        total = page.stat().st_size
        for base in set(re.findall(r'"base": "(explorers/[^"]+)"', text)):
            total += sum(f.stat().st_size for f in (out / base).glob("*.webp"))
        sizes[page.name] = total
    sizes["site"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return sizes


def response_times(out: Path, moves: int = 6, shots: Path | None = None) -> dict:
    """{page: [ms per move]}: every control of every explorer moved `moves` times with the keyboard in Chromium."""
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for file in sorted(out.glob("*.html")):
            if 'class="fmlite-explorer"' not in file.read_text(encoding="utf-8"):
                continue
            page.goto(file.as_uri(), wait_until="load")
            page.wait_for_selector(".fmlite-explorer.fmlite-ready")
            page.evaluate(LATENCY_PROBE)
            for control in page.locator(".fmlite-explorer [data-control]").all():
                control.scroll_into_view_if_needed()
                control.focus()
                page.wait_for_timeout(300)  # the neighbours' pictures preload
                if control.evaluate("e => e.tagName") == "SELECT":
                    n = control.evaluate("e => e.options.length")
                    for k in range(moves):
                        control.select_option(index=(control.evaluate("e => e.selectedIndex") + 1) % n)
                        page.wait_for_timeout(120)
                    continue
                top = int(control.get_attribute("max"))
                for k in range(moves):
                    at = int(control.input_value())
                    page.keyboard.press("ArrowRight" if at < top else "Home")
                    page.wait_for_timeout(120)
            found[file.name] = page.evaluate("() => window.fmliteLatency")
            if shots is not None:
                page.locator(".fmlite-explorer").first.scroll_into_view_if_needed()
                page.screenshot(path=str(shots / f"{file.stem}_1280.png"))
        if shots is not None:
            small = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            for file in sorted(out.glob("*.html")):
                small.goto(file.as_uri(), wait_until="load")
                if small.locator(".fmlite-explorer").count():
                    small.locator(".fmlite-explorer").first.scroll_into_view_if_needed()
                small.screenshot(path=str(shots / f"{file.stem}_390.png"))
        browser.close()
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/fmlite-site-bench"))
    parser.add_argument("--quick", action="store_true", help="the few-setting grids of tests")
    parser.add_argument("--moves", type=int, default=6, help="key presses per control")
    parser.add_argument("--shots", type=Path, default=None, help="folder for screenshots (1280 and 390 px)")
    args = parser.parse_args(argv)
    from fmlite.tools.site import build_site

    start = time.perf_counter()
    build_site(args.out, quick=args.quick, force=True)
    seconds = time.perf_counter() - start
    sizes = page_sizes(args.out)
    print(f"build ({'quick' if args.quick else 'full'} grids): {seconds:.1f} s")
    for name, size in sizes.items():
        print(f"  {name:<40} {size / 1e6:7.2f} MB")
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    times = response_times(args.out, args.moves, args.shots)
    every = [t for ts in times.values() for t in ts]
    for name, ts in times.items():
        if ts:
            print(f"  {name:<40} {len(ts):3d} moves: median {statistics.median(ts):5.1f} ms, max {max(ts):5.1f} ms")
    if every:
        print(f"key press to painted picture, all moves: median {statistics.median(every):.1f} ms, "
              f"max {max(every):.1f} ms ({len(every)} moves)")
    print(json.dumps({"build_s": round(seconds, 1), "site_mb": round(sizes["site"] / 1e6, 2),
                      "largest_page_mb": round(max(v for k, v in sizes.items() if k != "site") / 1e6, 2),
                      "median_ms": round(statistics.median(every), 1) if every else None,
                      "max_ms": round(max(every), 1) if every else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
