// DashScope applications (Model Studio agents and workflows): POST /api/v1/apps/{app_id}/completion.
// No model in the request (the app chooses); the response's usage lists each model the app
// called, {"usage": {"models": [{"model_id": "qwen-plus", "input_tokens": .., "output_tokens": ..}]}}:
// the tokens are the sum over the list, the model the last one named. Streams by header, as
// the native API, with the running totals repeated per event.
import { ApiShape, Auth } from "./shape";
import { MatchKind, StringMatch } from "../match";
import { Field } from "./fields";
import { Billing } from "./billing";

export const dashscopeApps = new ApiShape("dashscope-apps")
  .pathBoth(new StringMatch(MatchKind.Contains, "/api/v1/apps/"), new StringMatch(MatchKind.Suffix, "/completion"))
  .streamsByHeader()
  .authBy(Auth.Bearer)
  .billedAs(Billing.SummedOverModels)
  .responseField("usage.models.[].model_id", Field.Model)
  .responseSum("usage.models.[].input_tokens", Field.PromptTokens)
  .responseSum("usage.models.[].output_tokens", Field.CompletionTokens)
  .responseField("code", Field.Error)
  .responseField("message", Field.ErrorMessage)
  .responseField("output.finish_reason", Field.FinishReason)
  .responseField("output.text", Field.Content);
