// Headless-Chromium checks of the offline viewer and of USDZ files (through
// tinyusdz's WebAssembly build), with Debian's /usr/bin/chromium driven by
// puppeteer-core. Everything is served from 127.0.0.1; no network.
//
// usage:
//   node browser_test.js viewer DIR EXPECT.json SHOT.png [heat|leg|bone]
//   node browser_test.js usdz FILE.usdz EXPECT.json
// EXPECT.json: {"extent_lps_mm": [x, y, z], "structures": [names], "heat": bool}
// Prints one line per check and "N passed, N failed"; exit 0 only when none failed.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const {createRequire} = require('module');
const viewerPackage = path.resolve(__dirname, '../../ar_export/viewer');
const puppeteer = createRequire(path.join(viewerPackage, 'package.json'))('puppeteer-core');

const CHROMIUM = process.env.SSMX_CHROMIUM || '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
  '--disable-background-networking', '--disable-component-update', '--window-size=1000,700'];
const ANDROID_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';
const IOS_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

let passed = 0, failed = 0;
function check(ok, what, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ': ' + detail : ''}`);
}

// A static file server for `roots` ({'/': dir, '/tinyusdz/': dir2}) on a free port.
function serve(roots) {
  const types = {'.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
    '.glb': 'model/gltf-binary', '.usdz': 'model/vnd.usdz+zip', '.wasm': 'application/wasm', '.png': 'image/png'};
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const prefix = Object.keys(roots).sort((a, b) => b.length - a.length).find((p) => url.startsWith(p));
    let file = prefix && path.join(roots[prefix], url.slice(prefix.length));
    if (file && url.endsWith('/')) file = path.join(file, 'index.html');
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, {'Content-Type': types[path.extname(file)] || 'application/octet-stream'});
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function launch() {
  return puppeteer.launch({executablePath: CHROMIUM, headless: true, args: FLAGS, defaultViewport: {width: 1000, height: 700}});
}

// Records anchor clicks (model-viewer launches Scene Viewer and Quick Look by
// clicking an <a>) instead of following them; pretends to be Safari for the
// Quick Look feature test when asked.
function arStub(pretendQuickLook) {
  return `(() => {
    window.__arClicks = [];
    HTMLAnchorElement.prototype.click = function () {
      window.__arClicks.push({href: this.href, rel: this.getAttribute('rel') || ''});
    };
    if (${pretendQuickLook}) {
      const supports = DOMTokenList.prototype.supports;
      DOMTokenList.prototype.supports = function (token) { return token === 'ar' ? true : supports.call(this, token); };
    }
  })();`;
}

async function openViewer(browser, base, userAgent, quickLook) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) errors.push('off-host request: ' + r.url()); });
  if (userAgent) await page.setUserAgent(userAgent);
  await page.evaluateOnNewDocument(arStub(quickLook));
  await page.goto(base + '/index.html', {waitUntil: 'load'});
  await page.waitForFunction(() => window.ssmxViewer && window.ssmxViewer.state.loaded && window.ssmxViewer.state.visible,
      {timeout: 60000});
  return {page, errors};
}

// Pixels of the screenshot as RGBA, decoded by the page's own image decoder.
async function pixels(page, png) {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = 'data:image/png;base64,' + b64;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    return {width: img.width, height: img.height, data: Array.from(g.getImageData(0, 0, img.width, img.height).data)};
  }, Buffer.from(png).toString('base64'));
}

// Bone: warm and unsaturated (red > blue clearly, green between); the
// background gradient is neutral to bluish. Heat (viridis): green or teal
// dominant, or yellow-green.
const isBone = (r, g, b) => r > 90 && r - b > 12 && g >= b - 4 && r >= g - 4;
const isHeat = (r, g, b) => (g > r + 15 && g > b - 30) || (b > r + 30 && g > r) || (r > g + 30 && b > g + 30) ||
    (r > 150 && g > 150 && b < 100);
// Any model pixel: bone, heat-map or the blue-grey default colours; not the
// neutral background or the grey shadow.
const isModel = (r, g, b) => isBone(r, g, b) || isHeat(r, g, b) || b > r + 25;

function countIn(px, box, predicate) {
  let n = 0, total = 0;
  for (let y = box.y0; y < box.y1; ++y) {
    for (let x = box.x0; x < box.x1; ++x) {
      const i = 4 * (y * px.width + x);
      total++;
      if (predicate(px.data[i], px.data[i + 1], px.data[i + 2])) n++;
    }
  }
  return {n, total, fraction: n / total};
}

async function viewerChecks(dir, expect, shot, kind) {
  const server = await serve({'/': dir});
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  try {
    // Desktop: loads, right size and names, coloured pixels in the middle.
    const {page, errors} = await openViewer(browser, base, null, false);
    const info = await page.evaluate(() => {
      const mv = window.ssmxViewer.element;
      const d = mv.getDimensions();
      return {dims: [d.x, d.y, d.z], materials: mv.model.materials.map((m) => m.name),
        scene: window.SSMX_SCENE, canAR: mv.canActivateAR};
    });
    check(true, 'load and model-visibility events fired');
    const e = expect.extent_lps_mm;
    const want = [e[0] / 1000, e[2] / 1000, e[1] / 1000];  // (x, z, y) in metres
    const err = Math.max(...want.map((w, k) => Math.abs(w - info.dims[k])));
    check(err < 2e-4, 'model-viewer bounding box = LPS extent in metres (x, z, y)',
        `got ${info.dims.map((v) => v.toFixed(4))}, want ${want.map((v) => v.toFixed(4))}, max error ${(err * 1000).toFixed(3)} mm`);
    check(JSON.stringify(info.materials) === JSON.stringify(expect.structures), 'one material per structure, named after it',
        JSON.stringify(info.materials));
    check(JSON.stringify(info.scene.structures.map((s) => s.name)) === JSON.stringify(expect.structures),
        'scene.js lists the structures', '');
    check(!!info.scene.heat_map === !!expect.heat, 'legend present exactly when there is a heat map');
    if (expect.heat) {
      const legend = await page.evaluate(() => ({hidden: document.getElementById('legend-section').hidden,
        min: document.getElementById('legend-min').textContent, max: document.getElementById('legend-max').textContent}));
      check(!legend.hidden && Math.abs(parseFloat(legend.min) - expect.heat.min) < 0.01 &&
            Math.abs(parseFloat(legend.max) - expect.heat.max) < 0.01, 'legend shows the scalar range', JSON.stringify(legend));
    }
    await page.evaluate(() => window.ssmxViewer.element.updateComplete);
    await new Promise((r) => setTimeout(r, 1500));
    const png = await page.screenshot({path: shot});
    const px = await pixels(page, png);
    const middle = {x0: 250, x1: 450, y0: 250, y1: 450};  // the model-viewer area is 700 px wide
    const predicate = expect.heat ? isHeat : isBone;
    const centre = countIn(px, middle, predicate);
    check(centre.fraction > 0.05, `screenshot has ${expect.heat ? 'heat-map' : 'bone'}-coloured pixels in the middle`,
        `${(100 * centre.fraction).toFixed(1)} % of the central 200x200 px`);
    const full = {x0: 0, x1: 700, y0: 0, y1: 700};
    const before = countIn(px, full, predicate).n;

    // Clipping plane: an axial cut at half height removes much of the model.
    await page.evaluate(() => window.ssmxViewer.setClip('y', 0.5, false));
    await new Promise((r) => setTimeout(r, 800));
    const clipped = countIn(await pixels(page, await page.screenshot({path: shot.replace(/\.png$/, '_clipped.png')})), full, predicate).n;
    check(clipped < 0.8 * before && clipped > 0, 'axial clipping plane removes part of the model',
        `${before} -> ${clipped} coloured pixels`);
    await page.evaluate(() => window.ssmxViewer.setClip('off', 0.5, false));

    // Measurement: click the topmost and bottommost model pixels of a front
    // view; the vertical component must match the S-I extent.
    const column = await page.evaluate(async () => {
      const mv = window.ssmxViewer.element;
      mv.cameraOrbit = '0deg 90deg auto';
      mv.jumpCameraToGoal();
      await new Promise((r) => setTimeout(r, 1500));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return true;
    });
    const front = await pixels(page, await page.screenshot());
    // The middle of the model's run of pixels in its topmost and bottommost
    // rows, 4 rows inwards.
    const rowHits = (y) => {
      const xs = [];
      for (let x = 0; x < 700; ++x) {
        const i = 4 * (y * front.width + x);
        if (isModel(front.data[i], front.data[i + 1], front.data[i + 2])) xs.push(x);
      }
      return xs;
    };
    let top = null, bottom = null;
    for (let y = 0; y < 700 && !top; ++y) if (rowHits(y).length) { const xs = rowHits(y + 4); top = {x: xs[xs.length >> 1], y: y + 4}; }
    for (let y = 699; y >= 0 && !bottom; --y) if (rowHits(y).length) { const xs = rowHits(y - 4); bottom = {x: xs[xs.length >> 1], y: y - 4}; }
    const measured = await page.evaluate(async (a, b) => {
      const v = window.ssmxViewer;
      v.clearMeasure();
      const hit = (p) => v.element.positionAndNormalFromPoint(p.x, p.y);
      const ha = hit(a), hb = hit(b);
      if (!ha || !hb) return null;
      v.addPoint(ha.position);
      const mm = v.addPoint(hb.position);
      return {mm, dy: 1000 * Math.abs(ha.position.y - hb.position.y), text: document.getElementById('distance').textContent, a, b, ya: ha.position.y, yb: hb.position.y};
    }, top, bottom);
    check(column && measured && Math.abs(measured.dy - e[2]) < 0.05 * e[2] && measured.text.endsWith(' mm'),
        'two-point measurement between the top and bottom of the model spans the S-I extent',
        measured ? `clicks ${JSON.stringify([measured.a, measured.b])}, vertical ${measured.dy.toFixed(1)} mm vs extent ${e[2].toFixed(1)} mm; shown "${measured.text}"` : 'no hit');

    // Visibility toggles: hiding the first structure removes its pixels.
    if (expect.structures.length > 1) {
      await page.evaluate(() => { const mv = window.ssmxViewer.element; mv.cameraOrbit = '0deg 75deg auto'; mv.jumpCameraToGoal(); });
      await new Promise((r) => setTimeout(r, 800));
      const all = countIn(await pixels(page, await page.screenshot()), full, predicate).n;
      await page.evaluate((n) => window.ssmxViewer.setVisible(n, false), expect.structures[0]);
      await new Promise((r) => setTimeout(r, 800));
      const without = countIn(await pixels(page, await page.screenshot()), full, predicate).n;
      await page.evaluate((n) => window.ssmxViewer.setVisible(n, true), expect.structures[0]);
      check(without < 0.8 * all, `hiding "${expect.structures[0]}" removes its pixels`, `${all} -> ${without}`);
    }
    check(errors.length === 0, 'no page errors, no failed or off-host requests', errors.join('; '));
    await page.close();

    // Android: Scene Viewer intent with resizable=false.
    {
      const {page} = await openViewer(browser, base, ANDROID_UA, false);
      const r = await page.evaluate(async () => {
        const mv = window.ssmxViewer.element;
        const can = mv.canActivateAR;
        await mv.activateAR();
        return {can, clicks: window.__arClicks};
      });
      const href = r.clicks.length ? r.clicks[0].href : '';
      check(r.can && href.startsWith('intent://arvr.google.com/scene-viewer/') && href.includes('resizable=false') &&
            href.includes('file=' + encodeURIComponent(base + '/model.glb')) && href.includes('mode=ar_preferred'),
      'Android user agent: activateAR() yields a Scene Viewer intent with resizable=false', href.slice(0, 160) + '...');
      await page.close();
    }
    // iOS: Quick Look link to the USDZ with #allowsContentScaling=0.
    {
      const {page} = await openViewer(browser, base, IOS_UA, true);
      const r = await page.evaluate(async () => {
        const mv = window.ssmxViewer.element;
        const can = mv.canActivateAR;
        await mv.activateAR();
        return {can, clicks: window.__arClicks};
      });
      const c = r.clicks[0] || {href: '', rel: ''};
      check(r.can && c.href === base + '/model.usdz#allowsContentScaling=0' && c.rel === 'ar',
          'iOS user agent: activateAR() yields the .usdz link (rel=ar) with #allowsContentScaling=0', c.href);
      await page.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
}

async function usdzChecks(file, expect) {
  const tinyusdz = path.join(viewerPackage, 'node_modules/tinyusdz');
  const dir = path.dirname(path.resolve(file));
  const server = await serve({'/files/': dir, '/tinyusdz/': tinyusdz, '/': __dirname});
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await launch();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base + '/usdz_check.html', {waitUntil: 'load'});
    const r = await page.evaluate(async (url) => window.parseUsdz(url), base + '/files/' + path.basename(file));
    check(r.ok, 'tinyusdz parses the USDZ', r.error || '');
    if (r.ok) {
      check(r.meshes.length === expect.structures.length, 'number of meshes', `${r.meshes.length} vs ${expect.structures.length}`);
      check(JSON.stringify(r.meshes.map((m) => m.name)) === JSON.stringify(expect.structures.map((n) => n.replace(/[^A-Za-z0-9_]/g, '_'))),
          'mesh prim names are the structure names', JSON.stringify(r.meshes.map((m) => m.name)));
      const e = expect.extent_lps_mm;
      const want = [e[0] / 1000, e[2] / 1000, e[1] / 1000];
      const err = Math.max(...want.map((w, k) => Math.abs(w - (r.max[k] - r.min[k]))));
      check(err < 2e-4, 'extent of all points = LPS extent in metres (x, z, y)',
          `got ${r.max.map((v, k) => (v - r.min[k]).toFixed(4))}, max error ${(1000 * err).toFixed(3)} mm`);
      const faces = r.meshes.reduce((s, m) => s + m.triangles, 0);
      check(faces === expect.faces, 'triangle count', `${faces} vs ${expect.faces}`);
      check(r.meshes.every((m) => m.normals === m.points), 'a normal per point');
      if (expect.heat) {
        check(r.meshes.every((m) => m.texcoords === m.points) && r.textures.length === r.meshes.length &&
              r.textures.every((t) => t.inPackage && t.width === 256 && t.height === 4 &&
                  // viridis' published end points, #440154 and #fde725
                  JSON.stringify(t.first) === '[68,1,84]' && JSON.stringify(t.last) === '[253,231,37]'),
            'heat map: texture coordinates per point and a 256x4 colormap texture on the material',
            JSON.stringify(r.meshes.map((m) => m.texcoords)) + ' ' + JSON.stringify(r.textures));
      } else {
        check(r.textures.length === 0, 'no texture without a heat map', JSON.stringify(r.meshes.map((m) => m.material)));
      }
      check(Math.abs(r.upAxisY - 1) < 1e-9 || r.upAxisY === null, 'root transform keeps +Y up');
    }
    check(errors.length === 0, 'no page errors', errors.join('; '));
  } finally {
    await browser.close();
    server.close();
  }
}

async function main() {
  const [mode, target, expectFile, shot] = process.argv.slice(2);
  const expect = JSON.parse(fs.readFileSync(expectFile, 'utf8'));
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`SKIP: ${CHROMIUM} is missing (scripts/setup.sh installs Debian's chromium)`);
    process.exit(77);
  }
  if (mode === 'viewer') await viewerChecks(target, expect, shot);
  else if (mode === 'usdz') await usdzChecks(target, expect);
  else throw new Error('unknown mode ' + mode);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => {
  console.error('browser_test: ' + (e.stack || e));
  process.exit(1);
});
