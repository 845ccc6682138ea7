// Drives Debian's chromium with playwright-core for tests/test_ui.py; prints one JSON result line.
//   node drive.mjs chapter <notebook-url> <shots-dir> <deadline-seconds>   run all; PipelineView Succeeded
//   node drive.mjs approve <notebook-url> <shots-dir> <deadline-seconds>   run all; click Approve
//   node drive.mjs page <url> <shots-dir>                                   screenshot a page (report.html)
import { chromium } from "playwright-core";

const [mode, url, shots, deadlineText] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const deadline = Date.now() + 1000 * Number(deadlineText || 300);

// Root in a container cannot use chromium's sandbox; the pages are our own.
const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const result = { mode, ok: false };

async function until(what, check) {
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await page.waitForTimeout(500);
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function menu(top, item) {
  await page.locator(".lm-MenuBar-itemLabel", { hasText: new RegExp(`^${top}$`) }).click();
  await page.locator(".lm-Menu-itemLabel", { hasText: new RegExp(`^${item}$`) }).click();
}

async function openAndRunAll() {
  await page.goto(url);
  await page.locator(".jp-NotebookPanel .jp-Cell").first().waitFor({ timeout: 120000 });
  // A fresh server may ask which kernel to start: take the notebook's own (python3).
  const kernelDialog = page.locator(".jp-Dialog", { hasText: "Select Kernel" });
  await kernelDialog.waitFor({ timeout: 5000 }).then(
    () => kernelDialog.locator(".jp-Dialog-button.jp-mod-accept").click(), () => {});
  await until("the kernel to be idle", () => page.locator("#jp-main-statusbar :text('Idle')").count());
  await menu("Edit", "Clear Outputs of All Cells");  // the committed outputs must not count as a run
  await menu("Run", "Run All Cells");
  // Every code cell gets an execution count; a raised error stops the run early.
  return until("every cell to run", async () => {
    const prompts = await page.locator(".jp-CodeCell .jp-InputPrompt").allInnerTexts();
    const errors = await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").allInnerTexts();
    if (errors.length) return { prompts, errors };
    const done = prompts.length > 0 && prompts.every((p) => /\[\d+\]/.test(p));
    return done ? { prompts, errors } : null;
  });
}

async function pipelineWidget({ lastOnly = false } = {}) {
  // The live PipelineView: an ipywidgets HTML whose title is "Pipeline <name>" over a table of actions.
  // lastOnly: only the notebook's last view counts (earlier views of finished executions are green already).
  return until("the PipelineView to show every stage Succeeded", async () => {
    let texts = (await page.locator(".jp-OutputArea-output .widget-html").allInnerTexts())
      .filter((text) => text.startsWith("Pipeline "));
    if (lastOnly) texts = texts.slice(-1);
    for (const text of texts) {
      if (text.startsWith("Pipeline ") && /Source/.test(text) && /Deploy/.test(text)) {
        const rows = text.split("\n").filter((line) => /\t/.test(line));
        const statuses = rows.slice(1).map((line) => line.split("\t")[2]?.trim());
        if (statuses.length && statuses.every((s) => s === "Succeeded")) return text;
      }
    }
    return null;
  });
}

try {
  if (mode === "page") {
    await page.goto(url);
    result.title = await page.title();
    result.verdict = await page.locator("#verdict").innerText();
    result.rows = await page.locator("#chapters tbody tr").allInnerTexts();
    await page.screenshot({ path: `${shots}/report.png`, fullPage: true });
    result.ok = true;
  } else if (mode === "chapter") {
    const run = await openAndRunAll();
    await page.screenshot({ path: `${shots}/after-run-all.png`, fullPage: false });
    result.errors = run.errors;
    result.cells = run.prompts.length;
    if (!run.errors.length) {
      result.widget = await pipelineWidget();
      const widget = page.locator(".jp-OutputArea-output .widget-html", { hasText: "Pipeline " }).last();
      await widget.scrollIntoViewIfNeeded();
      await widget.screenshot({ path: `${shots}/pipeline-view.png` });
      result.ok = true;
    }
  } else if (mode === "approve") {
    const run = await openAndRunAll();
    result.errors = run.errors;
    const approve = page.locator(".jp-OutputArea-output button", { hasText: /^Approve$/ }).last();
    await approve.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${shots}/approval-panel.png` });
    const views = (await page.locator(".jp-OutputArea-output .widget-html").allInnerTexts())
      .filter((text) => text.startsWith("Pipeline "));
    result.waitingBeforeClick = /InProgress/.test(views.slice(-1)[0] || "");
    await approve.click();
    // The approval's own pipeline view (the notebook's last) turns green only because of this click.
    result.widget = await pipelineWidget({ lastOnly: true });
    await page.screenshot({ path: `${shots}/after-approve.png` });
    result.ok = true;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (error) {
  result.error = String(error);
  await page.screenshot({ path: `${shots || "."}/failure-${mode}.png` }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
