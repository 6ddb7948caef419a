// The design document's client: `ApiClient` (with `isErrorResponse`) from "Client-Side Error
// Handling" in the error-handling framework's design document, transcribed from its TypeScript
// with the types removed and nothing else changed, its defects included: the tests run it as
// the document wrote it. (`handleAuthError` was `private`, which only TypeScript enforces; it
// needs a browser's `localStorage` and `window`.)

// Function to check if response is an error
export function isErrorResponse(response) {
  return response && response.error && typeof response.error.code === "string";
}

// API client with error handling
export class ApiClient {
  baseUrl;
  token = null;

  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  // Set auth token
  setToken(token) {
    this.token = token;
  }

  // Generic request method with error handling
  async request(method, path, data) {
    const url = `${this.baseUrl}${path}`;

    const headers = {
      "Content-Type": "application/json",
    };

    // Add auth token if available
    if (this.token) {
      headers["Authorization"] = `Bearer ${this.token}`;
    }

    try {
      const response = await fetch(url, {
        method,
        headers,
        body: data ? JSON.stringify(data) : undefined,
      });

      // Parse response
      const responseData = await response.json();

      // Check for error response
      if (!response.ok || isErrorResponse(responseData)) {
        // Extract error details
        const error = isErrorResponse(responseData)
          ? responseData.error
          : {
              code: "unknown_error",
              message: "Unknown error occurred",
              correlation_id: "",
            };

        // Add status code to error
        const errorWithStatus = {
          ...error,
          status: response.status,
        };

        // Log error with correlation ID for support
        console.error(`API Error (${error.correlation_id}):`, errorWithStatus);

        // Handle specific error types
        switch (error.code) {
          case "authentication_error":
          case "token_expired":
            // Redirect to login
            this.handleAuthError();
            break;

          case "validation_error":
            // Extract field errors for form display
            const fieldErrors = error.details?.field_errors || {};
            throw { ...errorWithStatus, fieldErrors };

          case "rate_limit_exceeded":
            // Extract retry time
            const retryAfter = response.headers.get("Retry-After");
            throw { ...errorWithStatus, retryAfter };

          default:
            // Generic error
            throw errorWithStatus;
        }
      }

      // Return successful response
      return responseData;
    } catch (error) {
      // Handle network errors
      if (error instanceof TypeError && error.message === "Failed to fetch") {
        throw {
          code: "network_error",
          message: "Network error occurred",
          status: 0,
        };
      }

      // Re-throw other errors
      throw error;
    }
  }

  // Handle authentication errors
  handleAuthError() {
    // Clear token
    this.token = null;

    // Store current location for redirect after login
    localStorage.setItem("auth_redirect", window.location.pathname);

    // Redirect to login
    window.location.href = "/login";
  }

  // Convenience methods
  async get(path) {
    return this.request("GET", path);
  }

  async post(path, data) {
    return this.request("POST", path, data);
  }

  async put(path, data) {
    return this.request("PUT", path, data);
  }

  async delete(path) {
    return this.request("DELETE", path);
  }
}
