// Validates GLB files with the Khronos glTF-Validator (npm gltf-validator).
// usage: node validate_gltf.js FILE.glb...   prints one JSON line per file:
//   {"file", "errors", "warnings", "infos", "hints", "messages": [...]}
// and exits 1 when any file has an error or a warning.
'use strict';
const fs = require('fs');
const path = require('path');
const {createRequire} = require('module');
const viewerDir = path.resolve(__dirname, '../../ar_export/viewer');
const validator = createRequire(path.join(viewerDir, 'package.json'))('gltf-validator');

async function main() {
  let failed = false;
  for (const file of process.argv.slice(2)) {
    const data = new Uint8Array(fs.readFileSync(file));
    const report = await validator.validateBytes(data, {uri: file, maxIssues: 100, writeTimestamp: false});
    const issues = report.issues;
    const line = {
      file,
      validator: report.validatorVersion,
      errors: issues.numErrors,
      warnings: issues.numWarnings,
      infos: issues.numInfos,
      hints: issues.numHints,
      messages: issues.messages.map(m => `${m.severity}:${m.code}:${m.pointer || ''}:${m.message}`),
      info: report.info,
    };
    console.log(JSON.stringify(line));
    if (issues.numErrors > 0 || issues.numWarnings > 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
}
main().catch(e => {
  console.error('validate_gltf: ' + e.message);
  process.exit(2);
});
