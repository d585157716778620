#!/usr/bin/python3
"""ssmx drr side by side with plastimatch drr -i exact and ITK's ray caster.

Makes the benchmark CT (a 512 x 512 x 256 body phantom at 1 mm with pelvis-like
bones, the phantom of body_phantom.h), projects it with `ssmx drr` and
`plastimatch drr -i exact` on the same AP and LAT geometries (512^2 detector),
alternating the two programs in one run, and prints both absolute times, the
speed ratio and the RMS difference of the images. Then the PSNR of both (and
of ITK) against the analytic image of a partial-volume sphere (radius 45 mm,
1 mm voxels), ITK's RayCastInterpolateImageFunction on a smaller CT, and, with
--memory, the peak RSS of `ssmx drr` on a 512^3 int16 CT.

Conventions (docs/drr.md, "Benchmarks and peer comparison"): plastimatch's
view with --nrm n --vup z is ours with d = -n, e_u = z x n, e_v = -z; its -r,
-z, -c pairs are (columns, rows) = (u, v) whatever the help text says; its
output is the line integral / 10 with mu = 0.022 (1 + HU/1000) for HU > -800,
so ssmx runs with --mu-water 0.022 and its image is compared with 10 x
plastimatch's.

    benchmarks/drr/compare_plastimatch.py [--repeats 3] [--memory] [--json out.json]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MU_PLASTIMATCH = 0.022  # plastimatch's mu_water (1/mm) in its HU preprocessing
MU_WATER = 0.02059      # ssmx's default


# ---- files -------------------------------------------------------------------

def write_mha(path, vol_kji, spacing, origin):
    """MetaImage with identity direction; vol_kji is indexed [k, j, i]."""
    kind = {np.dtype('float32'): 'MET_FLOAT', np.dtype('int16'): 'MET_SHORT'}[vol_kji.dtype]
    nk, nj, ni = vol_kji.shape
    header = ('ObjectType = Image\nNDims = 3\nBinaryData = True\n'
              'BinaryDataByteOrderMSB = False\nCompressedData = False\n'
              'TransformMatrix = 1 0 0 0 1 0 0 0 1\n'
              'Offset = %r %r %r\nCenterOfRotation = 0 0 0\nAnatomicalOrientation = RAI\n'
              'ElementSpacing = %r %r %r\nDimSize = %d %d %d\nElementType = %s\n'
              'ElementDataFile = LOCAL\n') % (*map(float, origin), *map(float, spacing),
                                              ni, nj, nk, kind)
    with open(path, 'wb') as f:
        f.write(header.encode())
        f.write(np.ascontiguousarray(vol_kji, dtype=vol_kji.dtype.newbyteorder('<')).tobytes())


def read_mha(path):
    """A MetaImage with local raw data as float64 [k, j, i] (or [j, i] for 2D)."""
    raw = open(path, 'rb').read()
    end = raw.index(b'ElementDataFile = LOCAL') + len(b'ElementDataFile = LOCAL')
    end = raw.index(b'\n', end) + 1
    header = dict(line.split(' = ', 1) for line in raw[:end].decode().strip().split('\n'))
    data = raw[end:]
    if header.get('CompressedData', 'False') == 'True':
        data = zlib.decompress(data)
    dims = [int(v) for v in header['DimSize'].split()]
    dtype = {'MET_FLOAT': '<f4', 'MET_SHORT': '<i2', 'MET_DOUBLE': '<f8'}[header['ElementType']]
    return np.frombuffer(data, dtype, count=int(np.prod(dims))).reshape(dims[::-1]).astype(
        np.float64)


def read_pfm(path):
    """plastimatch's PFM: rows stored top row first (not bottom-up as in the PFM spec)."""
    with open(path, 'rb') as f:
        if f.readline().strip() != b'Pf':
            raise SystemExit('%s: not a grey PFM' % path)
        width, height = map(int, f.readline().split())
        scale = float(f.readline())
        data = np.frombuffer(f.read(width * height * 4), '<f4' if scale < 0 else '>f4')
    return data.reshape(height, width).astype(np.float64)


# ---- phantoms -------------------------------------------------------------------

def grid(n, spacing):
    """Voxel centre coordinates (mm) of an axis of n voxels centred on 0."""
    return (np.arange(n) - 0.5 * (n - 1)) * spacing


def body_phantom(ni=512, nj=512, nk=256, spacing=1.0):
    """int16 HU [k, j, i]; the phantom of body_phantom.h (keep the two in step)."""
    x = grid(ni, spacing)[None, :]
    y = grid(nj, spacing)[:, None]
    ell = lambda a, b, ra, rb: (a / ra) ** 2 + (b / rb) ** 2
    out = np.empty((nk, nj, ni), np.int16)
    soft = np.where(ell(x, y, 160, 105) > 1, -90.0, 40.0)
    outside = ell(x, y, 170, 115) > 1
    for k, z in enumerate(grid(nk, spacing)):
        depth = np.full((nj, ni), -1.0)
        cortex = np.full((nj, ni), 2.0)

        def bone(d, cortex_mm):
            d = np.broadcast_to(d, depth.shape)
            better = d > depth
            depth[better] = d[better]
            cortex[better] = cortex_mm

        for side in (-1.0, 1.0):
            xs = side * x  # mirror the left half onto the right
            if z <= -30:
                bone(14 - np.hypot(xs - 95, y - 10), 4)  # femoral shaft
            bone(24 - np.sqrt((xs - 88) ** 2 + (y - 10) ** 2 + (z + 10) ** 2), 2)  # femoral head
            if z >= 0:  # iliac wing: an ellipsoid, approximate depth
                q = np.sqrt(((xs - 80) / 50) ** 2 + ((y - 30) / 20) ** 2 + ((z - 55) / 55) ** 2)
                bone((1 - q) * 20, 3)
        if z >= -20:
            bone(22 - np.hypot(x, y - 70), 2)  # sacrum
        bone(np.where(np.abs(x) <= 75, 9 - np.hypot(y + 55, z + 25), -1.0), 2)  # pubic rami
        hu = np.where(depth >= 0, np.where(depth < cortex, 1400.0, 250.0), soft)
        out[k] = np.where(outside, -1000.0, hu)
    return out


def sphere_fraction(n, spacing, radius, subsamples=8):
    """Fraction of each voxel inside a sphere centred on 0, from subsamples^3 points."""
    c = grid(n, spacing)
    z, y, x = np.meshgrid(c, c, c, indexing='ij')
    r = np.sqrt(x * x + y * y + z * z)
    frac = (r <= radius).astype(np.float64)
    edge = np.abs(r - radius) <= 0.5 * np.sqrt(3) * spacing
    offsets = ((np.arange(subsamples) + 0.5) / subsamples - 0.5) * spacing
    oz, oy, ox = [a.ravel() for a in np.meshgrid(offsets, offsets, offsets, indexing='ij')]
    centres = np.stack([z[edge], y[edge], x[edge]], axis=1)
    inside = np.empty(len(centres))
    for start in range(0, len(centres), 4096):
        cz, cy, cx = [a[:, None] for a in centres[start:start + 4096].T]
        inside[start:start + 4096] = np.mean(
            (cz + oz) ** 2 + (cy + oy) ** 2 + (cx + ox) ** 2 <= radius * radius, axis=1)
    frac[edge] = inside
    return frac


# ---- geometry -----------------------------------------------------------------------

class View:
    """A named ssmx view (docs/geometry.md section 5) and its plastimatch/ITK equivalents."""
    AXES = {'ap': ((1, 0, 0), (0, 0, -1), (0, 1, 0)), 'lat': ((0, -1, 0), (0, 0, -1), (1, 0, 0))}

    def __init__(self, name, pixels, pixel_mm, sid=1000.0, sad=700.0, iso=(0.0, 0.0, 0.0)):
        self.name, self.pixels, self.pixel_mm, self.sid, self.sad = name, pixels, pixel_mm, sid, sad
        self.iso = np.array(iso, float)
        self.e_u, self.e_v, self.d = (np.array(a, float) for a in self.AXES[name])
        self.source = self.iso - sad * self.d
        c = 0.5 * (pixels - 1)
        self.origin = self.source + sid * self.d - c * pixel_mm * (self.e_u + self.e_v)

    def pixel_points(self):
        """(rows, cols, 3) LPS centres of the detector pixels."""
        idx = np.arange(self.pixels) * self.pixel_mm
        return (self.origin + idx[None, :, None] * self.e_u + idx[:, None, None] * self.e_v)

    def ssmx_args(self):
        return ['--view', self.name, '--size', '%dx%d' % (self.pixels, self.pixels),
                '--pixel-spacing', repr(self.pixel_mm), '--source-to-detector', repr(self.sid),
                '--source-to-isocenter', repr(self.sad),
                '--isocenter', ','.join(repr(float(v)) for v in self.iso)]

    def plastimatch_args(self):
        size = self.pixels * self.pixel_mm
        return ['--nrm', ' '.join(repr(float(v)) for v in -self.d), '--vup', '0 0 1',
                '-o', ' '.join(repr(float(v)) for v in self.iso), '--sad', repr(self.sad),
                '--sid', repr(self.sid), '-r', '%d %d' % (self.pixels, self.pixels),
                '-z', '%r %r' % (size, size)]

    def itk_args(self):
        numbers = [self.pixels, self.pixels, self.pixel_mm, self.pixel_mm, *self.source,
                   *self.origin, *self.e_u, *self.e_v]
        return [repr(float(v)) if isinstance(v, float) or isinstance(v, np.floating) else str(v)
                for v in numbers]


def exits_through_back_face(view, lo, hi):
    """(rows, cols) mask of the rays that leave the box [lo, hi] (mm) through its face
    across the beam (for AP the posterior face), not through a side face: the peers
    lose the exit voxel, which matters only where a side face cuts tissue."""
    d = view.pixel_points() - view.source
    with np.errstate(divide='ignore', invalid='ignore'):
        t_lo = (np.asarray(lo) - view.source) / d
        t_hi = (np.asarray(hi) - view.source) / d
    t_exit = np.where(np.isnan(t_hi), np.inf, np.maximum(t_lo, t_hi))
    beam_axis = int(np.argmax(np.abs(view.d)))
    return np.argmin(t_exit, axis=-1) == beam_axis


def sphere_truth(view, radius, mu):
    """mu times the chord of each ray (source -> pixel) through the sphere at the origin."""
    w = view.pixel_points() - view.source
    w /= np.linalg.norm(w, axis=-1, keepdims=True)
    b = -np.einsum('rci,i->rc', w, view.source)
    d2 = view.source @ view.source - b * b
    return mu * 2 * np.sqrt(np.clip(radius * radius - d2, 0, None))


def psnr(truth, image):
    return 10 * np.log10(truth.max() ** 2 / np.mean((image - truth) ** 2))


def rms_relative(image, reference, mask=None):
    """RMS(image - reference) / RMS(reference), and the same over max(reference)."""
    if mask is not None:
        image, reference = image[mask], reference[mask]
    rms = np.sqrt(np.mean((image - reference) ** 2))
    return rms / np.sqrt(np.mean(reference ** 2)), rms / reference.max()


# ---- running ---------------------------------------------------------------------------

def run(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns wall s, cpu s, peak RSS MiB and stdout."""
    with tempfile.NamedTemporaryFile('r', suffix='.time') as t:
        proc = subprocess.run(['/usr/bin/time', '-f', '%e %U %S %M', '-o', t.name, *cmd],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit('failed (%d): %s\n%s' % (proc.returncode, ' '.join(cmd), proc.stderr))
        wall, user, system, rss_kb = t.read().split()[-4:]
    return {'wall': float(wall), 'cpu': float(user) + float(system),
            'rss_mib': int(rss_kb) / 1024.0, 'stdout': proc.stdout}


def run_ssmx(ssmx, ct, view, out, extra=()):
    r = run([ssmx, 'drr', ct, *view.ssmx_args(), '--out', out, '--json', *extra])
    r['project'] = json.loads(r['stdout'])['seconds']['project']
    return r


def run_plastimatch(ct, view, prefix, extra=()):
    r = run(['plastimatch', 'drr', '-i', 'exact', '-t', 'pfm', *view.plastimatch_args(),
             *extra, '-O', prefix, ct])
    m = re.search(r'Total time: ([0-9.eE+-]+)', r['stdout'])
    r['project'] = float(m.group(1)) if m else float('nan')  # render + write, not the CT read
    return r


def median(values):
    return float(np.median(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ssmx', default=os.path.join(ROOT, 'build/bindings/cli/ssmx'))
    parser.add_argument('--itk', default=os.path.join(ROOT, 'build/benchmarks/drr/itk_raycast_drr'))
    parser.add_argument('--repeats', type=int, default=3, help='alternating runs per view')
    parser.add_argument('--threads', type=int, default=0, help='ssmx threads (0: every core)')
    parser.add_argument('--memory', action='store_true', help='also the 512^3 peak-RSS check')
    parser.add_argument('--workdir', help='keep the files here (default: a temporary folder)')
    parser.add_argument('--json', help='write the numbers to this file')
    args = parser.parse_args()
    for tool in (args.ssmx, 'plastimatch'):
        if not shutil.which(tool):
            raise SystemExit('%s not found (build ssmx; apt-get install plastimatch)' % tool)
    work = args.workdir or tempfile.mkdtemp(prefix='ssmx_drr_compare_')
    os.makedirs(work, exist_ok=True)
    extra = ['--threads', str(args.threads)] if args.threads else []
    results = {'cores': os.cpu_count(), 'load_average_start': os.getloadavg()[0]}
    path = lambda name: os.path.join(work, name)

    # 1. Speed and agreement on the 512 x 512 x 256 body phantom.
    print('writing the 512x512x256 body phantom (int16 HU, 1 mm) ...', flush=True)
    write_mha(path('body.mha'), body_phantom(), (1, 1, 1),
              [grid(512, 1.0)[0], grid(512, 1.0)[0], grid(256, 1.0)[0]])
    results['speed'] = {}
    print('\n%-4s %-5s %10s %10s %10s %10s' % ('view', 'run', 'ssmx wall', 'pm wall',
                                               'ssmx proj', 'pm render'))
    for name in ('ap', 'lat'):
        view = View(name, 512, 1.0)
        runs = {'ssmx': [], 'plastimatch': []}
        for r in range(args.repeats):
            order = ('ssmx', 'plastimatch') if r % 2 == 0 else ('plastimatch', 'ssmx')
            for tool in order:
                if tool == 'ssmx':
                    runs[tool].append(run_ssmx(args.ssmx, path('body.mha'), view,
                                               path('ssmx_%s.mha' % name),
                                               ['--mu-water', repr(MU_PLASTIMATCH), *extra]))
                else:
                    runs[tool].append(run_plastimatch(path('body.mha'), view,
                                                      path('pm_%s_' % name)))
            s, p = runs['ssmx'][-1], runs['plastimatch'][-1]
            print('%-4s %-5d %9.3fs %9.3fs %9.3fs %9.3fs' % (name, r, s['wall'], p['wall'],
                                                            s['project'], p['project']), flush=True)
        ours = read_mha(path('ssmx_%s.mha' % name)).reshape(512, 512)
        theirs = 10 * read_pfm(path('pm_%s_0000.pfm' % name))
        rel_rms, rel_max = rms_relative(theirs, ours)
        half = np.array([256.0, 256.0, 128.0])
        interior = exits_through_back_face(view, -half, half)
        entry = {k: {'wall_s': median([x['wall'] for x in v]),
                     'projection_s': median([x['project'] for x in v]),
                     'cpu_s': median([x['cpu'] for x in v]),
                     'peak_rss_mib': max(x['rss_mib'] for x in v)} for k, v in runs.items()}
        entry['ratio_wall'] = entry['plastimatch']['wall_s'] / entry['ssmx']['wall_s']
        entry['ratio_projection'] = (entry['plastimatch']['projection_s'] /
                                     entry['ssmx']['projection_s'])
        entry['rms_difference_over_rms'] = rel_rms
        entry['rms_difference_over_max'] = rel_max
        entry['rms_difference_over_rms_back_face_rays'] = rms_relative(theirs, ours, interior)[0]
        entry['back_face_ray_fraction'] = float(interior.mean())
        results['speed'][name] = entry

    # 2. Accuracy: the partial-volume sphere (radius 45 mm, 1 mm voxels), AP, 512^2 at 0.5 mm.
    print('\nwriting the partial-volume sphere (radius 45 mm, 1 mm voxels, 8^3 subsamples) ...',
          flush=True)
    frac = sphere_fraction(128, 1.0, 45.0)
    origin = [grid(128, 1.0)[0]] * 3
    write_mha(path('sphere_hu.mha'), (-1000 + 1000 * frac).astype(np.float32), (1, 1, 1), origin)
    write_mha(path('sphere_mu.mha'), (MU_WATER * frac).astype(np.float32), (1, 1, 1), origin)
    view = View('ap', 512, 0.5)
    truth = sphere_truth(view, 45.0, MU_WATER)
    run_ssmx(args.ssmx, path('sphere_hu.mha'), view, path('sphere_exact.mha'), extra)
    run_ssmx(args.ssmx, path('sphere_hu.mha'), view, path('sphere_trilinear.mha'),
             ['--projector', 'trilinear', *extra])
    run_plastimatch(path('sphere_mu.mha'), view, path('sphere_pm_'), ['-P', 'none'])
    images = {'ssmx exact': read_mha(path('sphere_exact.mha')).reshape(512, 512),
              'ssmx trilinear 0.5': read_mha(path('sphere_trilinear.mha')).reshape(512, 512),
              'plastimatch exact': 10 * read_pfm(path('sphere_pm_0000.pfm'))}
    if os.path.exists(args.itk):
        run([args.itk, path('sphere_mu.mha'), path('sphere_itk.mha'), *view.itk_args()])
        images['ITK ray cast'] = read_mha(path('sphere_itk.mha')).reshape(512, 512)
    results['sphere_psnr_db'] = {k: psnr(truth, v) for k, v in images.items()}

    # 3. ITK's ray caster on a smaller CT: the body phantom at 256 x 256 x 128, 2 mm.
    if os.path.exists(args.itk):
        small = body_phantom(256, 256, 128, 2.0)
        origin = [grid(256, 2.0)[0], grid(256, 2.0)[0], grid(128, 2.0)[0]]
        write_mha(path('small.mha'), small, (2, 2, 2), origin)
        mu = np.where(small > -1000, MU_WATER * (1 + small / 1000.0), 0).astype(np.float32)
        write_mha(path('small_mu.mha'), mu, (2, 2, 2), origin)
        view = View('ap', 256, 2.0)
        itk, ours, trilinear = [], [], []
        for r in range(args.repeats):
            ours.append(run_ssmx(args.ssmx, path('small.mha'), view, path('small_exact.mha'),
                                 extra))
            trilinear.append(run_ssmx(args.ssmx, path('small.mha'), view,
                                      path('small_trilinear.mha'),
                                      ['--projector', 'trilinear', *extra]))
            itk_run = run([args.itk, path('small_mu.mha'), path('small_itk.mha'),
                           *view.itk_args()])
            itk_run['project'] = json.loads(itk_run['stdout'])['seconds']
            itk.append(itk_run)
        interior = exits_through_back_face(view, -np.array([256.0, 256, 128]),
                                           np.array([256.0, 256, 128]))
        exact_img = read_mha(path('small_exact.mha')).reshape(256, 256)
        itk_img = read_mha(path('small_itk.mha')).reshape(256, 256)
        tri_img = read_mha(path('small_trilinear.mha')).reshape(256, 256)
        results['itk'] = {
            'volume': '256x256x128 at 2 mm', 'detector': '256^2 at 2 mm',
            'itk_projection_s': median([x['project'] for x in itk]),
            'ssmx_exact_projection_s': median([x['project'] for x in ours]),
            'ssmx_trilinear_projection_s': median([x['project'] for x in trilinear]),
            'itk_vs_ssmx_exact_rms_over_rms': rms_relative(itk_img, exact_img)[0],
            'itk_vs_ssmx_trilinear_rms_over_rms': rms_relative(itk_img, tri_img)[0],
            'itk_vs_ssmx_trilinear_rms_over_rms_back_face_rays':
                rms_relative(itk_img, tri_img, interior)[0]}

    # 4. Memory: a 512^3 int16 CT (256 MiB on disk, its float mu volume 512 MiB).
    if args.memory:
        print('\nwriting the 512^3 body phantom for the memory check ...', flush=True)
        write_mha(path('body512.mha'), body_phantom(512, 512, 512), (1, 1, 1),
                  [grid(512, 1.0)[0]] * 3)
        r = run_ssmx(args.ssmx, path('body512.mha'), View('ap', 512, 1.0),
                     path('body512_ap.mha'), extra)
        results['memory'] = {'peak_rss_mib': r['rss_mib'], 'float_mu_volume_mib': 512.0,
                             'target_mib': 768.0, 'wall_s': r['wall']}
        os.remove(path('body512.mha'))
    results['load_average_end'] = os.getloadavg()[0]

    # Report.
    print('\n== 512x512x256 body phantom, 512^2 detector (medians of %d alternating runs)'
          % args.repeats)
    for name, e in results['speed'].items():
        print('%s: ssmx %.3f s wall (projection %.3f s), plastimatch -i exact %.3f s wall '
              '(render %.3f s); speed ratio %.1fx wall, %.1fx projection; RMS difference '
              '%.2e of RMS (%.2e of max)' % (
                  name.upper(), e['ssmx']['wall_s'], e['ssmx']['projection_s'],
                  e['plastimatch']['wall_s'], e['plastimatch']['projection_s'], e['ratio_wall'],
                  e['ratio_projection'], e['rms_difference_over_rms'],
                  e['rms_difference_over_max']))
        print('     over the %.0f %% of rays that leave through the back face: RMS difference '
              '%.2e of RMS' % (100 * e['back_face_ray_fraction'],
                               e['rms_difference_over_rms_back_face_rays']))
        print('     process CPU time (user + sys): ssmx %.3f s, plastimatch %.3f s (%.1fx); peak '
              'RSS: ssmx %.0f MiB, plastimatch %.0f MiB' % (
                  e['ssmx']['cpu_s'], e['plastimatch']['cpu_s'],
                  e['plastimatch']['cpu_s'] / e['ssmx']['cpu_s'], e['ssmx']['peak_rss_mib'],
                  e['plastimatch']['peak_rss_mib']))
    print('== partial-volume sphere r = 45 mm at 1 mm voxels, PSNR against the analytic image')
    for k, v in results['sphere_psnr_db'].items():
        print('%-20s %.2f dB' % (k, v))
    if 'itk' in results:
        e = results['itk']
        print('== ITK RayCastInterpolateImageFunction, %s, %s: ITK %.3f s, ssmx exact %.3f s '
              '(%.1fx), ssmx trilinear %.3f s; ITK vs ssmx exact %.2e, vs trilinear %.2e (RMS '
              'difference / RMS; %.2e over the rays that leave through the back face)' % (
                  e['volume'], e['detector'], e['itk_projection_s'], e['ssmx_exact_projection_s'],
                  e['itk_projection_s'] / e['ssmx_exact_projection_s'],
                  e['ssmx_trilinear_projection_s'], e['itk_vs_ssmx_exact_rms_over_rms'],
                  e['itk_vs_ssmx_trilinear_rms_over_rms'],
                  e['itk_vs_ssmx_trilinear_rms_over_rms_back_face_rays']))
    if 'memory' in results:
        m = results['memory']
        print('== 512^3 int16 CT: ssmx drr peak RSS %.0f MiB (target < %.0f MiB = 1.5 x its '
              '%.0f MiB float mu volume): %s' % (m['peak_rss_mib'], m['target_mib'],
                                                m['float_mu_volume_mib'],
                                                'met' if m['peak_rss_mib'] < m['target_mib']
                                                else 'NOT met'))
    print('load average: %.1f at start, %.1f at the end (%d cores)' % (
        results['load_average_start'], results['load_average_end'], results['cores']))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=2)
    if not args.workdir:
        shutil.rmtree(work)


if __name__ == '__main__':
    main()
