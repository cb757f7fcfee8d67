# console: the web console's end-to-end test drives Debian's chromium with
# playwright-core (pinned by package-lock.json; no browser download: the
# test launches /usr/bin/chromium).
apt_install chromium fonts-dejavu-core
if ! command -v npm >/dev/null 2>&1; then
	apt_install npm
fi
(cd server/console/testdata/browser && npm ci --no-audit --no-fund --loglevel=error)
