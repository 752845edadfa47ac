"""The Chromium the browser tests, benchmarks and screenshot script launch, with the flags it
needs here (no sandbox as root, no GPU, no background traffic)."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
