// What WeChat DevTools needs to open and compile the project: every listed page has its four files,
// every tab is a listed page, and no page uses syntax older base libraries refuse.
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src');
const app = JSON.parse(fs.readFileSync(path.join(SRC, 'app.json'), 'utf8'));

describe('project', () => {
  test.each(app.pages)('%s has its .js, .json, .wxml and .wxss', (page) => {
    ['js', 'json', 'wxml', 'wxss'].forEach((ext) => expect(fs.existsSync(path.join(SRC, `${page}.${ext}`))).toBe(true));
    expect(JSON.parse(fs.readFileSync(path.join(SRC, `${page}.json`), 'utf8')).usingComponents).toBeDefined();
  });

  test('every page directory is listed in app.json and every tab is a page', () => {
    const dirs = fs.readdirSync(path.join(SRC, 'pages')).map((d) => `pages/${d}/index`).sort();
    expect([...app.pages].sort()).toEqual(dirs);
    app.tabBar.list.forEach((tab) => expect(app.pages).toContain(tab.pagePath));
  });

  test('project.config.json points DevTools at src/', () => {
    const project = JSON.parse(fs.readFileSync(path.join(ROOT, 'project.config.json'), 'utf8'));
    expect(project.miniprogramRoot).toBe('src/');
    expect(project.compileType).toBe('miniprogram');
  });

  test('no optional chaining or nullish coalescing in our own code (older base libraries refuse them)', () => {
    const files = [];
    const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).forEach((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== 'vendor') walk(p);
      else if (e.name.endsWith('.js')) files.push(p);
    });
    walk(SRC);
    const offenders = files.filter((f) => /\?\.[a-zA-Z_([]|\?\?/.test(fs.readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
