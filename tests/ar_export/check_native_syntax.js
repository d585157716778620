// Syntax check of the iOS (Swift) and Android (Kotlin, Gradle Kotlin DSL)
// samples with tree-sitter grammars (web-tree-sitter + tree-sitter-wasms):
// no ERROR or MISSING node anywhere. This is a parse, not a compile: types,
// imports and SDK APIs are not checked (no Xcode or Android SDK here).
// usage: node check_native_syntax.js DIR...   prints "N passed, N failed"
'use strict';
const fs = require('fs');
const path = require('path');
const {createRequire} = require('module');
const viewerPackage = path.resolve(__dirname, '../../ar_export/viewer');
const req = createRequire(path.join(viewerPackage, 'package.json'));
const Parser = req('web-tree-sitter');
const wasms = path.join(path.dirname(req.resolve('tree-sitter-wasms/package.json')), 'out');

function files(dir, out = []) {
  for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files(p, out);
    else out.push(p);
  }
  return out;
}

function problems(node, out = []) {
  if (node.type === 'ERROR' || node.isMissing) {
    out.push(`${node.isMissing ? 'missing ' + node.type : 'syntax error'} at line ${node.startPosition.row + 1}:${node.startPosition.column + 1}`);
  }
  if (node.hasError) for (let i = 0; i < node.childCount; ++i) problems(node.child(i), out);
  return out;
}

async function main() {
  await Parser.init();
  const languages = {
    '.swift': await Parser.Language.load(path.join(wasms, 'tree-sitter-swift.wasm')),
    '.kt': await Parser.Language.load(path.join(wasms, 'tree-sitter-kotlin.wasm')),
    '.kts': await Parser.Language.load(path.join(wasms, 'tree-sitter-kotlin.wasm')),
  };
  const parser = new Parser();
  let passed = 0, failed = 0;
  // The checker must be able to fail: a broken snippet of each language.
  for (const [ext, broken] of [['.swift', 'struct A { var x = }'], ['.kt', 'fun f( { val = 1 }']]) {
    parser.setLanguage(languages[ext]);
    const found = problems(parser.parse(broken).rootNode).length > 0;
    console.log(`${found ? 'ok  ' : 'FAIL'} the ${ext} grammar rejects a broken snippet`);
    found ? passed++ : failed++;
  }
  for (const dir of process.argv.slice(2)) {
    for (const file of files(dir).filter((f) => languages[path.extname(f)]).sort()) {
      parser.setLanguage(languages[path.extname(file)]);
      const found = problems(parser.parse(fs.readFileSync(file, 'utf8')).rootNode);
      console.log(`${found.length ? 'FAIL' : 'ok  '} ${path.relative(process.cwd(), file)} parses${found.length ? ': ' + found.slice(0, 5).join('; ') : ''}`);
      found.length ? failed++ : passed++;
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main().catch((e) => {
  console.error('check_native_syntax: ' + (e.stack || e));
  process.exit(1);
});
