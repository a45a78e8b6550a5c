// Compiles the Flamenco job type native/farm/flamenco/vanelia.js under Node, the way
// Flamenco Manager does under goja, and checks the tasks, commands and dependency graph.
//
// Usage: node tests/farm/flamenco_compile_test.js [SCRIPT]   (exit 0: all passed, 1: not)
//
// The stubs follow Flamenco's internal/manager/job_compilers: author.go (author.Task(name,
// type) trims and rejects empty names/types, tasks start with priority 50; author.Command(name,
// parameters, totalStepCount); job.addTask appends a *copy* of the task, so commands and
// dependencies added after addTask are lost) and scripts.go (the script is compiled in strict
// mode; the globals are print, alert, frameChunker, frameCount, formatTimestampLocal,
// shellSplit, author, path and process; no require). Flamenco maps Go names with
// UncapFieldNameMapper, so a task's fields are name, type, commands, dependencies.
"use strict";

const assert = require("assert");
const childProcess = require("child_process");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const ROOT = path.resolve(__dirname, "..", "..");
const SCRIPT = process.argv[2] || path.join(ROOT, "native", "farm", "flamenco", "vanelia.js");
const SETTING_TYPES = ["string", "int32", "float", "bool"];
const SETTING_SUBTYPES = ["file_path", "dir_path", "file_name", "hashed_file_path"];
const SETTING_VISIBILITY = ["visible", "hidden", "submission", "web"];
const SETTING_KEYS = [
    "key", "type", "subtype", "choices", "propargs", "description", "default", "eval",
    "evalInfo", "visible", "required", "editable", "label",
];

function makeAuthor() {
    let nextId = 0;
    return {
        Task(name, type) {
            name = String(name).trim();
            type = String(type).trim();
            if (name === "") throw new Error("author.Task(name, type): name is required");
            if (type === "") throw new Error("author.Task(name, type): type is required");
            const task = { uuid: "task-" + nextId++, name, type, priority: 50 };
            task.commands = [];
            task.dependencies = [];
            task.addCommand = (cmd) => task.commands.push(Object.assign({}, cmd));
            task.addDependency = (dep) => task.dependencies.push(dep);
            return task;
        },
        Command(name, parameters, totalStepCount) {
            return { name, parameters, totalStepCount: totalStepCount || 0 };
        },
    };
}

function makeJob(settings) {
    const job = { name: "clip", jobType: "vanelia", priority: 50, created: new Date(0) };
    job.settings = Object.assign({}, settings);
    job.metadata = {};
    job.tasks = [];
    // Go appends *at by value: snapshot the slices as they are now.
    job.addTask = (t) =>
        job.tasks.push(Object.assign({}, t, {
            commands: t.commands.slice(),
            dependencies: t.dependencies.slice(),
        }));
    return job;
}

// Loads the script into a fresh context that holds only Flamenco's globals.
function loadScript(source) {
    const printed = [];
    const context = vm.createContext({
        author: makeAuthor(),
        print: (...args) => printed.push(args.join(" ")),
        alert: (...args) => printed.push(args.join(" ")),
        path: { join: (...p) => p.join("/"), basename: path.basename, dirname: path.dirname },
        process: { env: {} },
        frameChunker: () => assert.fail("frameChunker is not expected"),
        frameCount: () => assert.fail("frameCount is not expected"),
        formatTimestampLocal: () => "1970-01-01_000000",
        shellSplit: (s) => s.split(/\s+/),
    });
    vm.runInContext('"use strict"; ' + source, context, { filename: SCRIPT });
    return {
        jobType: vm.runInContext("JOB_TYPE", context),
        compileJob: vm.runInContext("compileJob", context),
        printed,
    };
}

function compile(source, settings) {
    const loaded = loadScript(source);
    const job = makeJob(settings);
    loaded.compileJob(job);
    return { job, printed: loaded.printed };
}

// Plain data of the compiled tasks. The JSON round trip moves the script's arrays and objects
// out of the vm realm (deepStrictEqual compares prototypes), as the Manager stores JSON too.
function summary(job) {
    return jsonCopy(job.tasks.map((t) => ({
        name: t.name,
        type: t.type,
        commands: t.commands.map((c) => ({ name: c.name, parameters: c.parameters })),
        deps: t.dependencies.map((d) => d.name),
    })));
}

function jsonCopy(value) {
    return JSON.parse(JSON.stringify(value));
}

function stepArgs(step, jobDir, extra) {
    return ["farm", "step", step, "--job", jobDir].concat(extra || []);
}

function expectedTasks(exe, jobDir, chunks) {
    const task = (name, step, extra, deps) => ({
        name,
        type: "vanelia",
        commands: [{ name: "exec", parameters: { exe, args: stepArgs(step, jobDir, extra) } }],
        deps,
    });
    const renders = [];
    for (let k = 0; k < chunks; k++) {
        renders.push(task("render-" + k, "render", ["--chunk", String(k)], ["build"]));
    }
    return [task("track", "track", [], []), task("build", "build", [], ["track"])]
        .concat(renders)
        .concat([task("merge", "merge", [], renders.map((r) => r.name))]);
}

function assertTopologicalAndAcyclic(job) {
    const added = new Set();
    for (const t of job.tasks) {
        assert.ok(!added.has(t.name), "duplicate task name " + t.name);
        for (const d of t.dependencies) {
            assert.ok(added.has(d.name), t.name + " depends on " + d.name + ", added later");
            assert.ok(job.tasks.some((x) => x.uuid === d.uuid), d.name + " never added");
        }
        added.add(t.name);
    }
}

// ES2015 check: acorn (from Node's own deps, or a system `acorn`) parses the script as an
// ES2015 strict script; goja of Flamenco 3.x implements ES5.1 and most of ES2015.
function parseAsEs2015(source) {
    const code =
        "const a = (() => { try { return require('acorn'); } catch (e) {" +
        " return require('internal/deps/acorn/acorn/dist/acorn'); } })();" +
        "let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => {" +
        " a.parse(s, { ecmaVersion: 2015, sourceType: 'script' }); console.log('parsed'); });";
    const r = childProcess.spawnSync(process.execPath, ["--expose-internals", "-e", code], {
        input: '"use strict"; ' + source,
        encoding: "utf8",
    });
    if (/Cannot find module/.test(r.stderr)) {
        console.log("note: no acorn in this Node; ES2015 check by token list only");
        return;
    }
    assert.strictEqual(r.status, 0, "not ES2015 (acorn): " + r.stderr.split("\n")[4]);
    assert.strictEqual(r.stdout.trim(), "parsed");
}

const TESTS = {
    "JOB_TYPE declares the vanelia, job_dir and chunks settings"(source) {
        const jt = loadScript(source).jobType;
        assert.strictEqual(typeof jt.label, "string");
        const byKey = {};
        for (const s of jt.settings) {
            assert.ok(SETTING_TYPES.includes(s.type), s.key + ": type " + s.type);
            if (s.subtype) assert.ok(SETTING_SUBTYPES.includes(s.subtype), s.key);
            if (s.visible) assert.ok(SETTING_VISIBILITY.includes(s.visible), s.key);
            for (const k of Object.keys(s)) assert.ok(SETTING_KEYS.includes(k), s.key + "." + k);
            byKey[s.key] = s;
        }
        assert.deepStrictEqual(Object.keys(byKey), ["vanelia", "job_dir", "chunks"]);
        assert.strictEqual(byKey.vanelia.default, "vanelia");
        assert.strictEqual(byKey.job_dir.subtype, "dir_path");
        assert.strictEqual(byKey.chunks.type, "int32");
        assert.ok(Object.values(byKey).every((s) => s.required === true));
    },

    "three chunks give track, build, render-0..2 and merge with exec step commands"(source) {
        const exe = "/opt/vanelia/bin/vanelia";
        const jobDir = "/farm/jobs/clip 01";
        const { job, printed } = compile(source, { vanelia: exe, job_dir: jobDir, chunks: 3 });
        assert.deepStrictEqual(summary(job), expectedTasks(exe, jobDir, 3));
        assertTopologicalAndAcyclic(job);
        assert.ok(job.tasks.every((t) => t.commands[0].totalStepCount === 0));
        assert.strictEqual(printed.length, 1);
    },

    "one chunk (a float64 from JSON) gives four tasks; the default exe is kept"(source) {
        const { job } = compile(source, { vanelia: "vanelia", job_dir: "/j", chunks: 1.0 });
        assert.deepStrictEqual(summary(job), expectedTasks("vanelia", "/j", 1));
    },

    "renders run in parallel: each depends on build only, merge on all of them"(source) {
        const { job } = compile(source, { vanelia: "v", job_dir: "/j", chunks: 16 });
        const renders = job.tasks.filter((t) => t.name.startsWith("render-"));
        assert.strictEqual(renders.length, 16);
        assert.ok(renders.every((t) => t.dependencies.map((d) => d.name).join() === "build"));
        const merge = job.tasks[job.tasks.length - 1];
        assert.deepStrictEqual(
            merge.dependencies.map((d) => d.name).sort(),
            renders.map((t) => t.name).sort()
        );
        assertTopologicalAndAcyclic(job);
    },

    "bad settings are rejected with the setting's name, value and rule"(source) {
        const good = { vanelia: "vanelia", job_dir: "/j", chunks: 2 };
        const cases = [
            [{ chunks: 0 }, /chunks = 0; must be an integer >= 1/],
            [{ chunks: 2.5 }, /chunks = 2.5;/],
            [{ chunks: "3" }, /chunks = "3";/],
            [{ chunks: undefined }, /chunks = undefined;/],
            [{ job_dir: "" }, /job_dir = "";/],
            [{ job_dir: undefined }, /job_dir = undefined; must be a non-empty string/],
            [{ vanelia: "  " }, /vanelia = "  ";/],
        ];
        for (const [change, pattern] of cases) {
            const settings = Object.assign({}, good, change);
            assert.throws(() => compile(source, settings), (e) => pattern.test(String(e)));
        }
    },

    "the script is an ES2015 strict script without modules"(source) {
        for (const banned of [/\brequire\s*\(/, /^\s*(import|export)\b/m, /\bmodule\.exports/]) {
            assert.ok(!banned.test(source), "uses " + banned);
        }
        for (const banned of [/\basync\b/, /\bawait\b/, /\?\./, /\?\?/, /\*\*/, /\.\.\.\w/]) {
            assert.ok(!banned.test(source.replace(/\/\/.*$/gm, "")), "post-ES2015: " + banned);
        }
        parseAsEs2015(source);
    },
};

function main() {
    const source = fs.readFileSync(SCRIPT, "utf8");
    let failed = 0;
    for (const [name, test] of Object.entries(TESTS)) {
        try {
            test(source);
            console.log("ok   " + name);
        } catch (e) {
            failed++;
            console.log("FAIL " + name + "\n     " + String(e && e.stack ? e.stack : e));
        }
    }
    console.log(failed ? failed + " of " + Object.keys(TESTS).length + " failed" : "all passed");
    process.exitCode = failed ? 1 : 0;
}

main();
