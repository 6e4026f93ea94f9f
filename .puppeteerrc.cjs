// Chromium comes from the system (Debian's `chromium`); Puppeteer never downloads a browser.
module.exports = { skipDownload: true };
