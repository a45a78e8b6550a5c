// Flamenco job type "vanelia": one clip of `vanelia farm`, split into the steps
//
//   vanelia farm step track  --job JOBDIR
//   vanelia farm step build  --job JOBDIR
//   vanelia farm step render --job JOBDIR --chunk K     (K = 0 .. chunks-1)
//   vanelia farm step merge  --job JOBDIR
//
// with the dependencies track -> build -> render-0 .. render-(chunks-1), all in
// parallel -> merge. JOBDIR (on storage every Worker sees) holds job.json,
// format "vanelia-farm-job/1", written by `vanelia farm`; its "chunks" list has
// one [start, end] decoded-frame range per render task, so the `chunks` setting
// below must equal that list's length (the Manager cannot read job.json).
//
// Install: copy this file to the `scripts/` folder next to the
// flamenco-manager executable (the file name gives the job type name,
// "vanelia"). Every task has task type "vanelia" and runs the Worker's `exec`
// command (exe + args, no shell), so the Workers that may run them need
// `task_types: [vanelia, ...]` in flamenco-worker.yaml and vanelia (and
// Blender, for render) installed. The `vanelia` setting may be a Manager
// variable such as "{vanelia}", expanded per Worker platform.
//
// The format follows Flamenco's built-in job compiler scripts
// (internal/manager/job_compilers/scripts/simple_blender_render.js): a global
// JOB_TYPE and a compileJob(job) that uses the `author` API. The script is
// compiled by goja in strict mode, without modules; it keeps to ES2015
// (checked by tests/farm/flamenco_compile_test.js).

const JOB_TYPE = {
    label: "Vanelia Farm",
    settings: [
        {
            key: "vanelia",
            type: "string",
            required: true,
            default: "vanelia",
            description: "The vanelia executable on the Workers: a name on PATH, a path, " +
                "or a Manager variable like {vanelia}",
        },
        {
            key: "job_dir",
            type: "string",
            subtype: "dir_path",
            required: true,
            description: "JOBDIR made by `vanelia farm`, on storage shared by all Workers; " +
                "it holds job.json",
        },
        {
            key: "chunks",
            type: "int32",
            required: true,
            default: 1,
            propargs: { min: 1 },
            description: "Number of render tasks: the length of the 'chunks' list in job.json",
        },
    ],
};

// Task type of every task; Workers list it in their task_types.
const VANELIA_TASK_TYPE = "vanelia";

function compileJob(job) {
    const settings = job.settings;
    const exe = requiredString(settings, "vanelia");
    const jobDir = requiredString(settings, "job_dir");
    const chunks = chunkCount(settings.chunks);

    const track = stepTask("track", exe, jobDir, "track", []);
    const build = stepTask("build", exe, jobDir, "build", []);
    build.addDependency(track);

    const renders = [];
    for (let k = 0; k < chunks; k++) {
        const render = stepTask("render-" + k, exe, jobDir, "render", ["--chunk", String(k)]);
        render.addDependency(build);
        renders.push(render);
    }

    const merge = stepTask("merge", exe, jobDir, "merge", []);
    for (let i = 0; i < renders.length; i++) {
        merge.addDependency(renders[i]);
    }

    // Added in dependency order: every task after the tasks it depends on.
    job.addTask(track);
    job.addTask(build);
    for (let i = 0; i < renders.length; i++) {
        job.addTask(renders[i]);
    }
    job.addTask(merge);
    print("vanelia: job_dir", jobDir, "compiled to", renders.length + 3, "tasks");
}

// One task running `EXE farm step STEP --job JOBDIR EXTRA...` through `exec`.
function stepTask(name, exe, jobDir, step, extraArgs) {
    const task = author.Task(name, VANELIA_TASK_TYPE);
    const args = ["farm", "step", step, "--job", jobDir].concat(extraArgs);
    task.addCommand(author.Command("exec", { exe: exe, args: args }));
    return task;
}

function requiredString(settings, key) {
    const value = settings[key];
    if (typeof value !== "string" || value.trim() === "") {
        throw "vanelia job: setting " + key + " = " + JSON.stringify(value) +
            "; must be a non-empty string";
    }
    return value;
}

// Settings arrive from JSON, so an int32 may be a float64 like 4.0.
function chunkCount(value) {
    if (typeof value !== "number" || Math.floor(value) !== value || value < 1) {
        throw "vanelia job: setting chunks = " + JSON.stringify(value) +
            "; must be an integer >= 1 (the length of job.json's chunks list)";
    }
    return value;
}
