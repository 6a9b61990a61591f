/** Bad input that only the NAS could reveal (unknown container, …) or that zod cannot express. */
export class LogsInputError extends Error {
  readonly hint = 'Fix the argument and call logs again; status lists the containers.';
}
