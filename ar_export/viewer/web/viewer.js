// ssmx offline viewer: structure toggles, distance measurement, clipping
// plane and heat-map legend around <model-viewer>. Reads window.SSMX_SCENE
// (scene.js, written by ssmx export). Exposes window.ssmxViewer for scripts
// and tests.
const scene = window.SSMX_SCENE || {structures: [], title: 'ssmx 3D model'};
const mv = document.getElementById('model');
const $ = (id) => document.getElementById(id);

const state = {loaded: false, visible: false, error: null, measure: [], clip: {axis: 'off', fraction: 0.5, flip: false}};

// ---- page furniture from scene.js ------------------------------------------
document.title = scene.title || document.title;
$('title').textContent = scene.title || 'ssmx 3D model';
if (scene.generator) $('generator').textContent = `${scene.generator} ${scene.version}`;

function formatNumber(v) {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

if (scene.heat_map) {
  const h = scene.heat_map;
  $('legend-section').hidden = false;
  $('legend-title').textContent = `${h.scalar}${h.units ? ` (${h.units})` : ''} · ${h.colormap}`;
  $('legend-bar').style.background = `linear-gradient(to right, ${h.stops.join(', ')})`;
  $('legend-min').textContent = formatNumber(h.min);
  $('legend-max').textContent = formatNumber(h.max);
}

// ---- structures: one material per structure, hidden by alpha masking ------
function materialOf(name) {
  return mv.model ? mv.model.materials.find((m) => m.name === name) : undefined;
}

function setVisible(name, visible) {
  const material = materialOf(name);
  if (!material) return false;
  const [r, g, b] = material.pbrMetallicRoughness.baseColorFactor;
  material.pbrMetallicRoughness.setBaseColorFactor([r, g, b, visible ? 1 : 0]);
  material.setAlphaMode(visible ? 'OPAQUE' : 'MASK');
  if (!visible) material.setAlphaCutoff(0.5);
  return true;
}

function buildStructureList() {
  const list = $('structures');
  list.textContent = '';
  for (const s of scene.structures) {
    const li = document.createElement('li');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.dataset.structure = s.name;
    box.addEventListener('change', () => setVisible(s.name, box.checked));
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = s.heat_map && scene.heat_map ? `linear-gradient(${scene.heat_map.stops.join(',')})` : s.color;
    const label = document.createElement('label');
    label.textContent = s.name + (s.side ? ` (${s.side})` : '');
    label.prepend(box);
    li.append(swatch, label);
    list.append(li);
  }
}
buildStructureList();

// ---- model-viewer internals for clipping ----------------------------------
// model-viewer has no clipping API: reach its three.js scene and renderer
// through the symbols it keys them with (model-viewer 4.x, pinned in
// package.json; the headless test checks that clipping still removes pixels).
function internal(description) {
  for (let o = mv; o; o = Object.getPrototypeOf(o)) {
    for (const s of Object.getOwnPropertySymbols(o)) {
      if (s.description === description) return mv[s];
    }
  }
  return undefined;
}

function meshes() {
  const out = [];
  const modelScene = internal('scene');
  if (modelScene) modelScene.traverse((o) => { if (o.isMesh) out.push(o); });
  return out;
}

function worldBounds(list) {
  const min = [Infinity, Infinity, Infinity], max = [-Infinity, -Infinity, -Infinity];
  for (const mesh of list) {
    mesh.updateMatrixWorld(true);
    const pos = mesh.geometry.attributes.position;
    const e = mesh.matrixWorld.elements;
    for (let i = 0; i < pos.count; ++i) {
      const x = pos.getX(i), y = pos.getY(i), z = pos.getZ(i);
      const w = [e[0] * x + e[4] * y + e[8] * z + e[12], e[1] * x + e[5] * y + e[9] * z + e[13], e[2] * x + e[6] * y + e[10] * z + e[14]];
      for (let k = 0; k < 3; ++k) { min[k] = Math.min(min[k], w[k]); max[k] = Math.max(max[k], w[k]); }
    }
  }
  return {min, max};
}

let bounds = null;
function setClip(axis, fraction, flip) {
  state.clip = {axis, fraction, flip};
  const list = meshes();
  const renderer = internal('renderer');
  if (!list.length || !renderer) return false;
  renderer.threeRenderer.localClippingEnabled = true;
  if (!bounds) bounds = worldBounds(list);
  let plane = null;
  if (axis !== 'off') {
    const k = {x: 0, y: 1, z: 2}[axis];
    const Vector3 = list[0].position.constructor;
    const normal = new Vector3(0, 0, 0);
    normal.setComponent(k, flip ? 1 : -1);
    const at = bounds.min[k] + fraction * (bounds.max[k] - bounds.min[k]);
    // Kept: points with normal . p + constant >= 0. Default keeps the part
    // below / behind / right of the cut, revealing the cut from the viewer.
    plane = {normal, constant: flip ? -at : at};
  }
  for (const mesh of list) {
    const materials = Array.isArray(mesh.material) ? mesh.material : [mesh.material];
    for (const m of materials) {
      m.clippingPlanes = plane ? [plane] : [];
      m.side = plane ? 2 : 0;  // THREE.DoubleSide shows the inside at the cut
      m.needsUpdate = true;
    }
  }
  internal('scene').queueRender();
  return true;
}

$('clip-axis').addEventListener('change', () => {
  const axis = $('clip-axis').value;
  $('clip-position').disabled = $('clip-flip').disabled = axis === 'off';
  setClip(axis, $('clip-position').value / 100, $('clip-flip').checked);
});
for (const id of ['clip-position', 'clip-flip']) {
  $(id).addEventListener('input', () => setClip($('clip-axis').value, $('clip-position').value / 100, $('clip-flip').checked));
}

// ---- two-point distance ----------------------------------------------------
let measuring = false;
function clearMeasure() {
  state.measure = [];
  for (const el of mv.querySelectorAll('.hotspot, .hotspot-label')) el.remove();
  $('distance').textContent = '–';
  $('measure-clear').disabled = true;
}

function addPoint(position) {
  if (state.measure.length === 2) clearMeasure();
  state.measure.push(position);
  const dot = document.createElement('button');
  dot.className = 'hotspot';
  dot.slot = `hotspot-measure-${state.measure.length}`;
  dot.dataset.position = `${position.x}m ${position.y}m ${position.z}m`;
  mv.append(dot);
  $('measure-clear').disabled = false;
  if (state.measure.length === 2) {
    const [a, b] = state.measure;
    const mm = 1000 * Math.hypot(a.x - b.x, a.y - b.y, a.z - b.z);
    $('distance').textContent = `${mm.toFixed(1)} mm`;
    const label = document.createElement('div');
    label.className = 'hotspot-label';
    label.slot = 'hotspot-measure-label';
    label.dataset.position = `${(a.x + b.x) / 2}m ${(a.y + b.y) / 2}m ${(a.z + b.z) / 2}m`;
    label.textContent = `${mm.toFixed(1)} mm`;
    mv.append(label);
    return mm;
  }
  return null;
}

$('measure-button').addEventListener('click', () => {
  measuring = !measuring;
  $('measure-button').setAttribute('aria-pressed', String(measuring));
  $('measure-hint').hidden = !measuring;
});
$('measure-clear').addEventListener('click', clearMeasure);
mv.addEventListener('click', (event) => {
  if (!measuring) return;
  const hit = mv.positionAndNormalFromPoint(event.clientX, event.clientY);
  if (hit) addPoint(hit.position);
});

// ---- load state ------------------------------------------------------------
mv.addEventListener('load', () => {
  state.loaded = true;
  const d = mv.getDimensions();
  $('dimensions').textContent =
      `${(1000 * d.x).toFixed(1)} × ${(1000 * d.y).toFixed(1)} × ${(1000 * d.z).toFixed(1)} mm (L–R × S–I × A–P)`;
  for (const box of document.querySelectorAll('#structures input')) setVisible(box.dataset.structure, box.checked);
});
mv.addEventListener('model-visibility', (event) => { state.visible = event.detail.visible; });
mv.addEventListener('error', (event) => { state.error = String(event.detail && event.detail.type || 'error'); });

window.ssmxViewer = {scene, state, element: mv, setVisible, setClip, addPoint, clearMeasure, materialOf};
