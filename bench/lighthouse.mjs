// lighthouse.mjs — Lighthouse 12.2.3 (default mobile settings: simulated
// slow 4G, 4x CPU slowdown) on the dashboard's list page and one order page,
// with a staff session cookie; one line per page: Lighthouse's median run
// of RUNS (default 3) and the spread of score and LCP.
// Usage: node bench/lighthouse.mjs BASE_URL COOKIE [RUNS [ORDER]]
import lighthouse from 'lighthouse';
import {computeMedianRun} from 'lighthouse/core/lib/median-run.js';
import * as chromeLauncher from 'chrome-launcher';

const LIST_PATH = '/dashboard?status=in_production';
const TARGET = '(target: score >= 95, LCP < 1.5 s)';
const MAX_HTML = 4 * 1024 * 1024;   // the most of the list page we read
const MAX_RUNS = 20;
let printedVersion = false;

function usage() {
    console.error('usage: node lighthouse.mjs BASE_URL COOKIE [RUNS [ORDER]]');
    process.exit(2);
}

// The number of the first order the list page links to.
async function firstOrder(base, cookie) {
    const res = await fetch(base + LIST_PATH, {headers: {Cookie: cookie}});
    if (res.status !== 200)
        throw new Error(`GET ${LIST_PATH} answered ${res.status}`);
    const html = (await res.text()).slice(0, MAX_HTML);
    const m = html.match(/href="[^"]*\/dashboard\/orders\/([^"?#/]+)/);
    if (!m)
        throw new Error(`no order link on ${LIST_PATH}`);
    return decodeURIComponent(m[1]);
}

// "a-b" of the runs' values of f, or the one value when all agree.
function spread(runs, f) {
    const v = runs.map(f).sort((x, y) => x - y);
    return v[0] === v[v.length - 1] ? '' : ` (${v[0]}-${v[v.length - 1]}` +
        ` over ${v.length} runs)`;
}

// Formats the median run of one page as the bench's one-line figure.
function line(name, runs) {
    const lhr = computeMedianRun(runs);
    const a = (id) => lhr.audits[id].numericValue;
    const score = (r) => Math.round(r.categories.performance.score * 100);
    const lcp = (r) => (r.audits['largest-contentful-paint'].numericValue /
        1000).toFixed(2);
    const origin = new URL(lhr.finalDisplayedUrl).origin;
    const others = lhr.audits['network-requests'].details.items.filter(
        (r) => !r.url.startsWith(origin) && !r.url.startsWith('data:'));
    return `${name}: score ${score(lhr)}${spread(runs, score)}` +
        `, LCP ${lcp(lhr)} s${spread(runs, lcp)}` +
        `, FCP ${(a('first-contentful-paint') / 1000).toFixed(2)} s` +
        `, TBT ${Math.round(a('total-blocking-time'))} ms` +
        `, CLS ${a('cumulative-layout-shift').toFixed(3)}` +
        `, ${(a('total-byte-weight') / 1024).toFixed(1)} KiB transferred` +
        (others.length ? `, ${others.length} requests elsewhere` : '') +
        ` ${TARGET}`;
}

// Prints the versions once, from the first result.
function printVersion(lhr) {
    if (printedVersion)
        return;
    const ua = lhr.environment.hostUserAgent;
    console.log(`# lighthouse ${lhr.lighthouseVersion}, ` +
        `${ua.match(/(Headless)?Chrome\/[\d.]+/)?.[0] ?? ua}`);
    printedVersion = true;
}

// `runs` Lighthouse runs of one page, performance only, in the Chromium at
// `port`; the line to print.
async function audit(name, url, port, cookie, runs) {
    const flags = {
        port,
        output: 'json',
        logLevel: 'error',
        onlyCategories: ['performance'],
        extraHeaders: {Cookie: cookie},
    };
    const lhrs = [];
    for (let i = 0; i < runs; i++) {
        const lhr = (await lighthouse(url, flags))?.lhr;
        if (!lhr)
            return `${name}: FAILED (Lighthouse gave no result) ${TARGET}`;
        if (lhr.runtimeError || lhr.categories.performance.score === null)
            return `${name}: FAILED (${lhr.runtimeError?.code ?? 'no score'}` +
                `${lhr.runtimeError ? ': ' + lhr.runtimeError.message : ''})` +
                ` ${TARGET}`;
        printVersion(lhr);
        lhrs.push(lhr);
    }
    return line(name, lhrs);
}

async function main() {
    const [base, cookie, runArg, order] = process.argv.slice(2);
    const runs = Number(runArg ?? 3);
    if (!base || !cookie || !Number.isInteger(runs) || runs < 1 ||
            runs > MAX_RUNS)
        usage();
    const number = order ?? await firstOrder(base, cookie);
    const chrome = await chromeLauncher.launch({
        chromePath: process.env.CHROME_PATH ?? '/usr/bin/chromium',
        chromeFlags: ['--headless=new', '--no-sandbox'],
    });
    let failed = false;
    console.log(`# lighthouse: order page /dashboard/orders/${number}`);
    try {
        const pages = [
            ['lighthouse_mobile_list_50_in_production', base + LIST_PATH],
            ['lighthouse_mobile_order_page',
             `${base}/dashboard/orders/${encodeURIComponent(number)}`],
        ];
        for (const [name, url] of pages) {
            const text = await audit(name, url, chrome.port, cookie, runs);
            failed ||= text.includes('FAILED');
            console.log(text);
        }
    } finally {
        await chrome.kill();
    }
    process.exit(failed ? 1 : 0);
}

main().catch((err) => {
    console.log(`lighthouse: FAILED (${err.message})`);
    process.exit(1);
});
