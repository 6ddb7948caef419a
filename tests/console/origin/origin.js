/**
 * A third-party page using the service's client modules from the service itself: it signs in
 * through the API, opens the event stream with a ticket and lists the events it receives. All
 * of it crosses origins, so it works only as far as the service's CORS answers allow.
 */

const service = new URL(window.location.href).searchParams.get("service");
const { ApiClient } = await import(`${service}/static/errors/client.js`);
const { EventStream } = await import(`${service}/static/eventstream/stream.js`);

const client = new ApiClient(service);
const form = document.getElementById("sign-in");
const state = document.getElementById("state");
const error = document.getElementById("error");
const events = document.getElementById("events");

function show(failure) {
  error.textContent = `${failure.code}: ${failure.message} (${failure.correlationId})`;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  try {
    const answer = await client.post("/api/auth/token/", {
      username: data.get("username"),
      password: data.get("password"),
    });
    client.token = answer.token;
  } catch (failure) {
    show(failure);
    return;
  }
  const stream = new EventStream(client);
  stream.onState((value) => {
    state.textContent = value;
  });
  stream.onError(show);
  stream.on("workspace.created", (data, message) => {
    const item = document.createElement("li");
    item.dataset.eventId = message.lastEventId;
    item.textContent = `${data.type} ${data.workspace.name}`;
    events.append(item);
  });
  stream.open();
});

document.body.dataset.ready = "true";
