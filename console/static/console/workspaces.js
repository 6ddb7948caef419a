/**
 * The caller's workspaces: list, create, rename and delete through `/api/workspaces/`.
 *
 * The list is kept by workspace id and changed in place, by this tab's own requests and by the
 * live events of the others (`apply`), so a rename form that is open stays open when another
 * tab renames something else. A workspace another tab deleted answers 404 to a rename or delete
 * here: the console says it is gone, with the answer's message and correlation id, removes it
 * and reloads the list.
 */

import { FormFeedback, announce, clear, element, showError } from "./alerts.js";
import { t } from "./strings.js";

// The API's largest page: the console lists that many and says how many there are in all.
const PAGE_SIZE = 100;

export class WorkspacesPanel {
  /** `client`: the console's ApiClient; `path`: the collection's URL (`/api/workspaces/`). */
  constructor(root, { client, path }) {
    this.client = client;
    this.path = path;
    this.list = root.querySelector("#workspace-list");
    this.empty = root.querySelector("#workspace-empty");
    this.count = root.querySelector("#workspace-count");
    this.alert = root.querySelector("#list-alert");
    this.template = document.getElementById("workspace-row");
    this.rows = new Map(); // workspace id -> {workspace, row}
    this.total = 0;

    const create = root.querySelector("#create-form");
    const feedback = new FormFeedback(create);
    create.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create(create, feedback);
    });
    root.querySelector("#reload").addEventListener("click", () => {
      clear(this.alert);
      this.load();
    });
  }

  /** Fetch the list again; an error is shown above it and the list is left as it was. */
  async load() {
    let page;
    try {
      page = await this.client.get(this.path, { query: { limit: PAGE_SIZE } });
    } catch (error) {
      showError(this.alert, error, { lead: t("list_failed") });
      return;
    }
    const seen = new Set();
    for (const workspace of page.results) {
      seen.add(workspace.id);
      this.upsert(workspace);
    }
    for (const id of [...this.rows.keys()]) {
      if (!seen.has(id)) this.remove(id);
    }
    this.total = page.count;
    this.renderCount();
  }

  /** Forget everything (signing out). */
  reset() {
    this.rows.clear();
    this.list.replaceChildren();
    clear(this.alert);
    this.total = 0;
    this.renderCount();
  }

  /** A live event: `workspace.created`, `workspace.updated` or `workspace.deleted`. */
  apply(type, workspace) {
    const known = this.rows.has(workspace.id);
    if (type === "workspace.deleted") {
      if (known) {
        this.remove(workspace.id);
        this.total -= 1;
      }
    } else {
      this.upsert(workspace);
      if (!known && type === "workspace.created") this.total += 1;
    }
    this.renderCount();
  }

  async create(form, feedback) {
    const data = new FormData(form);
    const submit = form.querySelector('button[type="submit"]');
    feedback.clear();
    clear(this.alert);
    submit.disabled = true;
    try {
      const workspace = await this.client.post(this.path, {
        name: String(data.get("name") ?? ""),
        description: String(data.get("description") ?? ""),
      });
      this.apply("workspace.created", workspace);
      form.reset();
      announce(t("created_notice", { name: workspace.name }));
    } catch (error) {
      feedback.show(error);
    } finally {
      submit.disabled = false;
    }
  }

  // --- rows ---------------------------------------------------------------------------------

  upsert(workspace) {
    const known = this.rows.get(workspace.id);
    if (known) {
      known.workspace = workspace;
      this.fill(known.row, workspace);
      return;
    }
    const row = this.template.content.firstElementChild.cloneNode(true);
    row.id = `workspace-${workspace.id}`;
    row.dataset.id = workspace.id;
    const entry = { workspace, row };
    this.rows.set(workspace.id, entry);
    this.wire(entry);
    this.fill(row, workspace);
    // Oldest first, as the API lists them.
    const after = [...this.rows.values()].find(
      (other) => other !== entry && other.workspace.created_at > workspace.created_at,
    );
    this.list.insertBefore(row, after ? after.row : null);
  }

  remove(id) {
    const entry = this.rows.get(id);
    if (!entry) return;
    for (const alert of entry.row.querySelectorAll("[data-alert]")) clear(alert);
    entry.row.remove();
    this.rows.delete(id);
  }

  fill(row, workspace) {
    row.querySelector(".workspace-name").textContent = workspace.name;
    row.querySelector(".workspace-description").textContent = workspace.description;
    const named = { name: workspace.name };
    row.querySelector('[data-action="rename"]').setAttribute("aria-label", t("rename_label", named));
    row.querySelector('[data-action="delete"]').setAttribute("aria-label", t("delete_label", named));
  }

  renderCount() {
    const shown = this.rows.size;
    // An update of a workspace the list did not hold (made while the stream was away) adds a
    // row the count did not know of: it is counted again at the next load.
    const total = Math.max(this.total, shown);
    this.empty.hidden = shown > 0;
    this.count.textContent = total > shown ? t("count_some", { shown, total }) : `(${shown})`;
  }

  wire(entry) {
    const { row } = entry;
    const id = entry.workspace.id;
    const view = row.querySelector(".workspace-view");
    const renameForm = row.querySelector(".rename-form");
    const deleteForm = row.querySelector(".delete-form");
    const renameFeedback = new FormFeedback(renameForm);
    const deleteFeedback = new FormFeedback(deleteForm);
    const input = renameForm.elements.namedItem("name");
    const error = renameForm.querySelector('[data-error-for="name"]');
    input.id = `rename-${id}`;
    error.id = `rename-${id}-error`;
    input.setAttribute("aria-describedby", error.id);
    renameForm.querySelector("label").htmlFor = input.id;

    const close = (form, feedback) => {
      feedback.clear();
      form.hidden = true;
      view.hidden = false;
    };
    const open = (form) => {
      view.hidden = true;
      form.hidden = false;
    };

    row.querySelector('[data-action="rename"]').addEventListener("click", () => {
      input.value = entry.workspace.name;
      open(renameForm);
      input.select();
      input.focus();
    });
    row.querySelector('[data-action="cancel-rename"]').addEventListener("click", () => {
      close(renameForm, renameFeedback);
      row.querySelector('[data-action="rename"]').focus();
    });
    renameForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        close(renameForm, renameFeedback);
        row.querySelector('[data-action="rename"]').focus();
      }
    });
    renameForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      renameFeedback.clear();
      const outcome = await this.send(entry, renameForm, renameFeedback, () =>
        this.client.patch(`${this.path}${id}/`, { name: input.value }),
      );
      if (outcome) {
        this.apply("workspace.updated", outcome);
        close(renameForm, renameFeedback);
        row.querySelector('[data-action="rename"]').focus();
        announce(t("renamed_notice", { name: outcome.name }));
      }
    });

    row.querySelector('[data-action="delete"]').addEventListener("click", () => {
      const question = t("confirm_delete", { name: entry.workspace.name });
      deleteForm.querySelector(".confirm-text").textContent = question;
      open(deleteForm);
      deleteForm.querySelector('button[type="submit"]').focus();
    });
    deleteForm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        close(deleteForm, deleteFeedback);
        row.querySelector('[data-action="delete"]').focus();
      }
    });
    row.querySelector('[data-action="cancel-delete"]').addEventListener("click", () => {
      close(deleteForm, deleteFeedback);
      row.querySelector('[data-action="delete"]').focus();
    });
    deleteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      deleteFeedback.clear();
      const outcome = await this.send(entry, deleteForm, deleteFeedback, () =>
        this.client.delete(`${this.path}${id}/`),
      );
      if (outcome !== undefined) {
        const { name } = entry.workspace;
        this.apply("workspace.deleted", entry.workspace);
        document.getElementById("list-title").focus();
        announce(t("deleted_notice", { name }));
      }
    });
  }

  /**
   * Run `request` for the row's form: its answer, or undefined after an error, which is shown
   * in the form, or, for a workspace that no longer exists, above the list.
   */
  async send(entry, form, feedback, request) {
    const submit = form.querySelector('button[type="submit"]');
    clear(this.alert);
    submit.disabled = true;
    try {
      return await request();
    } catch (error) {
      if (error && error.status === 404) {
        this.gone(entry, error);
      } else {
        feedback.show(error);
      }
      return undefined;
    } finally {
      submit.disabled = false;
    }
  }

  /** The workspace was deleted elsewhere: say so, drop it, and reload the list. */
  gone(entry, error) {
    this.apply("workspace.deleted", entry.workspace);
    showError(this.alert, error, {
      lead: t("deleted_elsewhere", { name: entry.workspace.name }),
    });
    document.getElementById("list-title").focus();
    this.load();
  }
}
